"""The tutorial's CNN on scikit-learn's bundled digits: ``python -m dpipe_lightning.demo`` (``make demo``).

Trains with a value policy for the learning rate, validates every epoch, writes TensorBoard logs and checkpoints
under ``--out`` and prints the held-out accuracy. Run it again: it resumes, or finishes at once.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchmetrics.functional import accuracy

from . import layers
from .batch_iter import Infinite, load_by_random_id
from .datasets import Digits
from .torch import TorchModel, train_model
from .train.policy import Exponential


def tutorial_architecture() -> nn.Module:
    """The training tutorial's CNN: three convolutions, global max pooling, a linear classifier."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=3),
        nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=3),
        nn.ReLU(),
        nn.Conv2d(64, 128, kernel_size=3),
        layers.PyramidPooling(nn.functional.max_pool2d),  # global pooling
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def held_out_accuracy(model: TorchModel, dataset: Digits, ids: Sequence[int]) -> Callable[[], dict[str, float]]:
    """A ``validate`` function: accuracy of ``model`` on ``ids``."""
    images = dataset.xs[list(ids)]
    labels = torch.from_numpy(dataset.ys[list(ids)])

    def validate() -> dict[str, float]:
        predictions = np.concatenate([model.do_inf_step(chunk) for chunk in np.array_split(images, 4)])
        return {'accuracy': accuracy(torch.from_numpy(predictions), labels, 'multiclass', num_classes=10).item()}

    return validate


def main(argv: Sequence[str] | None = None) -> float:
    """Run the demo; returns the final held-out accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=Path('runs/demo'), help='folder for logs and checkpoints')
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--size', type=int, default=16, help='image side in pixels (the originals are 8x8)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--batches-per-epoch', type=int, default=45)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    dataset = Digits(size=args.size)
    train_ids, val_ids = dataset.split(val_fraction=0.2, random_state=0)
    model = TorchModel(tutorial_architecture(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
    batch_iter = Infinite(
        load_by_random_id(dataset.load_image, dataset.load_label, ids=train_ids, random_state=0),
        batch_size=args.batch_size,
        batches_per_epoch=args.batches_per_epoch,
    )
    validate = held_out_accuracy(model, dataset, val_ids)
    train_model(
        model,
        batch_iter,
        n_epochs=args.epochs,
        lr=Exponential(initial=1e-3, multiplier=0.8),
        log_path=args.out / 'logs',
        checkpoints_path=args.out / 'checkpoints',
        validate=validate,
    )
    final = validate()['accuracy']
    print(f'held-out accuracy on {len(val_ids)} digits: {final:.4f}')
    print(f'logs: tensorboard --logdir {os.fspath(args.out)}  (the run is named "logs")')
    return final


if __name__ == '__main__':
    main()
