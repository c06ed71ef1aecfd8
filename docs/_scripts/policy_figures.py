"""Tables and plots of the value policies, taken from a real ``train_model`` run.

Run by ``docs/conf.py`` at build time: ``python docs/_scripts/policy_figures.py <output folder>`` writes
``policy_tables.md``, ``policy_epoch_values.png`` and ``policy_step_values.png`` there. A tiny model records the
keyword values its ``do_train_step`` receives, so the tables show exactly what a training step sees.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import (
    CosineAnnealing,
    DecreasingOnPlateau,
    Exponential,
    LambdaEpoch,
    LambdaStep,
    LinearWarmup,
    Schedule,
    Switch,
)

N_EPOCHS, BATCHES_PER_EPOCH = 6, 4
# the train loss each epoch reports, scripted so that DecreasingOnPlateau meets a plateau (epochs 2 and 3)
SCRIPTED_LOSSES = [1.0, 0.5, 0.5, 0.5, 0.4, 0.4]

EPOCH_POLICIES = {
    'Exponential(10, 0.5)': Exponential(10, 0.5),
    'Exponential(1, 0.1, step_length=2)': Exponential(1, 0.1, step_length=2),
    'Exponential(1, 0.5, step_length=2, floordiv=False)': Exponential(1, 0.5, step_length=2, floordiv=False),
    'Schedule(1, {1: 10, 3: 0.5})': Schedule(1, {1: 10, 3: 0.5}),
    'Switch(0.0, {2: 0.5, 4: 1.0})': Switch(0.0, {2: 0.5, 4: 1.0}),
    'LambdaEpoch(lambda e: 1 / (e + 1))': LambdaEpoch(lambda e: 1 / (e + 1)),
    'DecreasingOnPlateau(initial=1, multiplier=0.5, patience=1, rtol=0.01, atol=0)': DecreasingOnPlateau(
        initial=1, multiplier=0.5, patience=1, rtol=0.01, atol=0
    ),
}
STEP_POLICIES = {
    'LinearWarmup(0, 1, n_steps=8)': LinearWarmup(0, 1, n_steps=8),
    'CosineAnnealing(1, 0.1, n_steps=16)': CosineAnnealing(1, 0.1, n_steps=16),
    'LambdaStep(lambda i: 0.9 ** i)': LambdaStep(lambda i: 0.9**i),
}


class Recording(TorchModel):
    """Records the values every step receives, and reports the scripted loss of the epoch."""

    def do_train_step(self, *inputs, lr, **values):
        loss = super().do_train_step(*inputs, lr=lr)
        self.received.append((self.current_epoch, values))
        return torch.full_like(loss, SCRIPTED_LOSSES[self.current_epoch])


def record() -> list[tuple[int, dict]]:
    torch.manual_seed(0)
    model = Recording(nn.Linear(2, 2), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    model.received = []
    batch = (np.zeros((4, 2), np.float32), np.zeros(4, np.int64))
    names = {f'p{i}': p for i, p in enumerate([*EPOCH_POLICIES.values(), *STEP_POLICIES.values()])}
    train_model(
        model,
        lambda: [batch] * BATCHES_PER_EPOCH,
        n_epochs=N_EPOCHS,
        lr=0.1,
        enable_progress_bar=False,
        **names,
    )
    labels = dict(zip(names, [*EPOCH_POLICIES, *STEP_POLICIES], strict=True))
    return [(epoch, {labels[k]: v for k, v in values.items()}) for epoch, values in model.received]


def number(value: float) -> str:
    return f'{value:.4g}'


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return '\n'.join(lines) + '\n'


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    received = record()
    epochs = list(range(N_EPOCHS))
    # an epoch policy gives every step of an epoch the same value: take the first step's
    per_epoch = {
        name: [next(v[name] for e, v in received if e == epoch) for epoch in epochs] for name in EPOCH_POLICIES
    }
    for name in EPOCH_POLICIES:
        assert all(v[name] == per_epoch[name][e] for e, v in received), name
    per_step = {name: [v[name] for _, v in received] for name in STEP_POLICIES}
    steps = list(range(len(received)))

    tables = [
        'Values received by `do_train_step` in epochs 0-5 (scripted epoch losses for DecreasingOnPlateau: '
        + ', '.join(map(str, SCRIPTED_LOSSES))
        + '):\n\n'
    ]
    tables.append(
        markdown_table(
            ['policy', *(f'e={e}' for e in epochs)],
            [[f'`{name}`', *map(number, per_epoch[name])] for name in EPOCH_POLICIES],
        )
    )
    shown = steps[:9] + [steps[-1]]
    tables.append(f'\nValues received by `do_train_step` in global steps ({BATCHES_PER_EPOCH} steps per epoch):\n\n')
    tables.append(
        markdown_table(
            ['policy', *(f'i={i}' for i in shown)],
            [[f'`{name}`', *(number(per_step[name][i]) for i in shown)] for name in STEP_POLICIES],
        )
    )
    (out / 'policy_tables.md').write_text(''.join(tables))

    columns = 4
    rows = math.ceil(len(EPOCH_POLICIES) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(12, 2.7 * rows), constrained_layout=True, squeeze=False)
    for ax, name in zip(axes.flat, EPOCH_POLICIES, strict=False):
        ax.step(epochs, per_epoch[name], where='post', color='tab:blue')
        ax.plot(epochs, per_epoch[name], 'o', color='tab:blue')
        ax.set_title(name.replace(', ', ',\n', 1) if len(name) > 34 else name, fontsize=8)
        ax.set_xlabel('epoch', fontsize=8)
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(EPOCH_POLICIES) :]:
        ax.axis('off')
    figure.savefig(out / 'policy_epoch_values.png', dpi=100)
    plt.close(figure)

    figure, axes = plt.subplots(1, len(STEP_POLICIES), figsize=(12, 2.7), constrained_layout=True)
    for ax, name in zip(axes, STEP_POLICIES, strict=True):
        ax.plot(steps, per_step[name], '.-', color='tab:orange')
        for boundary in range(0, len(steps), BATCHES_PER_EPOCH):
            ax.axvline(boundary, color='gray', alpha=0.2)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel('global step (grey lines: epoch starts)', fontsize=8)
        ax.grid(alpha=0.3)
    figure.savefig(out / 'policy_step_values.png', dpi=100)
    plt.close(figure)


if __name__ == '__main__':
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / '_generated')
