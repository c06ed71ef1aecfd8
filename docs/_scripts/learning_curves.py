"""Train the tutorial's CNN on the bundled digits and plot its real learning curves from the TensorBoard events.

Run by ``docs/conf.py`` at build time: ``python docs/_scripts/learning_curves.py <output folder>`` writes
``learning_curves.png`` and ``live_chart.png`` there. The run is short (a few epochs of 16x16 digits on the CPU) but
real: the first figure reads back what ``train_model`` logged (``train/loss``, ``val/metrics/accuracy``,
``policies/lr``); the second is the chart the progress display shows in Jupyter, drawn from the History the run
returned (checked equal to the logs).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from dpipe_lightning._logs.notebook import chart_png
from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.datasets import Digits
from dpipe_lightning.demo import held_out_accuracy, tutorial_architecture
from dpipe_lightning.torch import History, TorchModel, train_model
from dpipe_lightning.train.policy import Exponential

N_EPOCHS = 6


def train(log_path: Path) -> History:
    torch.manual_seed(0)
    dataset = Digits(size=16)
    train_ids, val_ids = dataset.split(val_fraction=0.2, random_state=0)
    model = TorchModel(tutorial_architecture(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
    batch_iter = Infinite(
        load_by_random_id(dataset.load_image, dataset.load_label, ids=train_ids, random_state=0),
        batch_size=32,
        batches_per_epoch=30,
    )
    return train_model(
        model,
        batch_iter,
        n_epochs=N_EPOCHS,
        lr=Exponential(initial=1e-3, multiplier=0.7),
        log_path=log_path,
        validate=held_out_accuracy(model, dataset, val_ids),
        enable_progress_bar=False,
    )


def read_scalars(log_path: Path) -> dict[str, tuple[list[int], list[float]]]:
    events = EventAccumulator(str(log_path))
    events.Reload()
    return {
        tag: ([e.step for e in events.Scalars(tag)], [e.value for e in events.Scalars(tag)])
        for tag in events.Tags()['scalars']
    }


def plot(scalars: dict[str, tuple[list[int], list[float]]], path: Path) -> None:
    panels = [
        ('train/loss', 'train loss (epoch mean)', True),
        ('val/metrics/accuracy', 'validation accuracy', False),
        ('policies/lr', 'policy value: lr', True),
    ]
    figure, axes = plt.subplots(1, 3, figsize=(11, 3.2), constrained_layout=True)
    for ax, (tag, title, log_scale) in zip(axes, panels, strict=True):
        steps, values = scalars[tag]
        ax.plot(steps, values, marker='o', color='tab:blue')
        ax.set_title(f'{title}\n{tag}', fontsize=10)
        ax.set_xlabel('epoch')
        ax.set_xticks(steps)
        ax.grid(alpha=0.3)
        if log_scale:
            ax.set_yscale('log')
    figure.suptitle('tutorial CNN on 16x16 digits: the TensorBoard scalars train_model wrote', fontsize=10)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / 'logs'
        history = train(log_path)
        scalars = read_scalars(log_path)
    assert scalars['val/metrics/accuracy'][0] == history.epoch, 'the History and the logs disagree'
    plot(scalars, out / 'learning_curves.png')
    (out / 'live_chart.png').write_bytes(chart_png(history))
    final = scalars['val/metrics/accuracy'][1][-1]
    print(f'learning_curves.py: {N_EPOCHS} epochs, final validation accuracy {final:.3f}', file=sys.stderr)


if __name__ == '__main__':
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / '_generated')
