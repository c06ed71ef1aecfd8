"""Prediction over every rank of a Trainer: ``Trainer.predict`` with the model's ``predict_step``, in input order.

Lightning gives each rank its own part of the inputs (every input exactly once, nothing padded, when predicting);
each rank keeps its predictions with their positions, the ranks exchange them at the end, and every rank returns
all of them in the order of the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning_utilities import apply_to_collection
from torch.utils.data import DataLoader, Dataset, default_convert

from .._checks import check_callable, check_int, reject
from .._lightning import works_in_started_processes
from .._quiet import quiet_lightning
from .outcome import Outcome
from .ranks import Ranks

__all__ = ['predict_batches', 'predict_ids']

#: what the helpers set unless given: a prediction writes no logs, checkpoints or model summary
_TRAINER_DEFAULTS = {'logger': False, 'enable_checkpointing': False, 'enable_model_summary': False}


def predict_ids(
    model: L.LightningModule,
    ids: Iterable,
    load_x: Callable[[Any], Any],
    *,
    batch_size: int = 1,
    num_workers: int = 0,
    **trainer_kwargs: Any,
) -> list:
    """The prediction of every id, in the order of ``ids``, made on every device of a Lightning ``Trainer``.

    Parameters
    ----------
    model
        a ``TorchModel`` (its ``predict_step`` gives ``logits2pred(model_core(*inputs))``) or any LightningModule.
    ids
        the ids to predict.
    load_x
        loads the input of one id: an array (or a tuple of arrays, the model's inputs), without a batch dimension.
    batch_size
        how many ids are predicted at once (``load_x`` must then give inputs of one shape).
    num_workers
        the ``DataLoader``'s loading processes, per rank.
    trainer_kwargs
        ``lightning.Trainer`` arguments: ``accelerator``, ``devices``, ``strategy``, ``num_nodes``, ``precision``,
        ``callbacks``, ... (logging, checkpointing and the model summary are off unless given).

    Returns
    -------
    One prediction per id (numpy, without the batch dimension), on every rank.

    Notes
    -----
    With ``devices=N, strategy='ddp'`` each of the N processes predicts about ``1/N`` of the ids and every process
    gets them all: call it from a script (guarded by ``if __name__ == '__main__':``), on every rank.
    """
    check_callable('load_x', load_x)
    batch_size = check_int('batch_size', batch_size, minimum=1)
    ids = list(ids)
    dataset = _Loaded(ids, load_x)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=check_int('num_workers', num_workers, minimum=0))
    return _predict_in_order(model, loader, len(ids), True, trainer_kwargs, 'predict_ids')


def predict_batches(model: L.LightningModule, batches: Iterable, **trainer_kwargs: Any) -> list:
    """The prediction of every batch, in the order of ``batches``, made on every device of a Lightning ``Trainer``.

    Parameters
    ----------
    model
        a ``TorchModel`` or any LightningModule (its ``predict_step`` predicts a batch).
    batches
        the batches of inputs: each an array or a tuple of arrays (the model's inputs, no target); e.g. a list of
        what a batch iterator gave, without the targets.
    trainer_kwargs
        ``lightning.Trainer`` arguments, as for :func:`predict_ids`.

    Returns
    -------
    One prediction per batch (numpy), on every rank.
    """
    batches = list(batches)
    loader = DataLoader(_Loaded(batches, _same), batch_size=1, collate_fn=_the_only_batch)
    return _predict_in_order(model, loader, len(batches), False, trainer_kwargs, 'predict_batches')


def _predict_in_order(
    model: Any, loader: DataLoader, count: int, split: bool, trainer_kwargs: dict, caller: str
) -> list:
    if not isinstance(model, L.LightningModule):
        reject(TypeError, 'model', 'a LightningModule (e.g. a TorchModel)', model)
    if 'use_distributed_sampler' in trainer_kwargs:
        raise TypeError(
            f'{caller} got the Trainer argument use_distributed_sampler, which it controls itself: the ranks '
            f'always predict their own part of the inputs.'
        )
    callbacks = list(trainer_kwargs.pop('callbacks', None) or [])
    writer = _InOrder(count, split)
    with quiet_lightning((r'.*does not have many workers', UserWarning)):
        trainer = L.Trainer(**{**_TRAINER_DEFAULTS, **trainer_kwargs}, callbacks=[*callbacks, writer])
    if works_in_started_processes(trainer):
        raise ValueError(
            f'{caller} cannot return predictions made in processes that the Trainer spawns or forks '
            f'(strategy={trainer_kwargs.get("strategy")!r}): use strategy="ddp" in a script (run once, or by '
            f'torchrun or srun), where every process returns them all.'
        )
    if count == 0:
        return []
    with quiet_lightning((r'.*does not have many workers', UserWarning)):
        trainer.predict(model, loader, return_predictions=False)
    return writer.result


class _Loaded(Dataset):
    """``load(keys[i])`` at index ``i``."""

    def __init__(self, keys: Sequence, load: Callable[[Any], Any]) -> None:
        self.keys, self.load = keys, load

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> Any:
        return self.load(self.keys[index])


def _same(batch: Any) -> Any:
    return batch


def _the_only_batch(items: list) -> Any:
    """A 'batch' of one item that is already a batch: that item, its arrays as tensors."""
    return default_convert(items[0])


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def _element(prediction: Any, j: int) -> Any:
    """The ``j``-th element of a batch's prediction (of each of its arrays)."""
    return apply_to_collection(prediction, np.ndarray, lambda array: array[j])


class _InOrder(BasePredictionWriter):
    """Keeps each batch's predictions with the positions of its inputs; at the end every rank has all of them,
    one per input (``split``: one per element of each batch), in ``result``."""

    def __init__(self, count: int, split: bool) -> None:
        super().__init__(write_interval='batch')
        self.count, self.split = count, split
        self.parts: list[tuple[list[int], Any]] = []
        self.result: list | None = None

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        self.parts.append((list(batch_indices), apply_to_collection(prediction, torch.Tensor, _to_numpy)))

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        parts = self.parts
        if trainer.world_size > 1:
            ranks = Ranks.of(trainer)
            parts = [part for share in ranks.all_gather_values(Outcome(ranks.rank, parts)) for part in share]
        result: list = [None] * self.count
        placed = 0
        for positions, prediction in parts:
            for j, position in enumerate(positions):
                result[position] = _element(prediction, j) if self.split else prediction
                placed += 1
        if placed != self.count:  # Lightning's predicting sampler gives every input to exactly one rank
            raise RuntimeError(f'{placed} predictions were made for {self.count} inputs')
        self.parts, self.result = [], result
