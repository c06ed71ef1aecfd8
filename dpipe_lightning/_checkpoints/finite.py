"""No checkpoint holds a diverged state: the weights and optimizer state are checked before every save."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import lightning as L
import torch
from torch import nn

__all__ = ['check_finite_state', 'nonfinite_tensors']


def nonfinite_tensors(module: nn.Module, optimizers: list[torch.optim.Optimizer]) -> list[str]:
    """The names of the floating-point weights, buffers and optimizer state tensors that hold a NaN or an infinity.

    One reduction per tensor and one host sync per device, so it costs little beside a save.
    """
    named = [(name, t) for name, t in module.state_dict().items() if t.is_floating_point()]
    for index, optimizer in enumerate(optimizers):
        for parameter, state in optimizer.state.items():
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    named.append((f'optimizer {index} state {key!r} of a {tuple(parameter.shape)} parameter', value))
    by_device: dict[torch.device, list[tuple[str, torch.Tensor]]] = defaultdict(list)
    for name, tensor in named:
        by_device[tensor.device].append((name, torch.isfinite(tensor).all()))
    bad = []
    for flags in by_device.values():
        finite = torch.stack([flag for _, flag in flags])
        if not bool(finite.all()):
            bad += [name for (name, _), ok in zip(flags, finite.tolist(), strict=True) if not ok]
    return bad


def check_finite_state(trainer: L.Trainer, module: nn.Module, where: str, newest: Path | None) -> None:
    """``FloatingPointError`` on every rank, naming what is not finite and the newest (finite) checkpoint, when the
    weights or optimizer state of ``module`` hold a NaN or an infinity; ``where``: the step, for the message."""
    bad = nonfinite_tensors(module, list(trainer.optimizers))
    if trainer.world_size > 1 and not trainer.strategy.reduce_boolean_decision(not bad, all=True):
        bad = bad or ['(on another rank)']
    if not bad:
        return
    named = ', '.join(bad[:3]) + (f' and {len(bad) - 3} more' if len(bad) > 3 else '')
    state = (
        f'the newest checkpoint, {str(newest)!r}, holds the last finite state: calling the same train_model again '
        f'resumes from it'
        if newest is not None
        else 'there is no checkpoint yet: calling the same train_model again starts afresh'
    )
    raise FloatingPointError(
        f'The weights or optimizer state are not finite {where} ({named}): the last update overflowed (a learning '
        f'rate too large for this step, say). This state was not saved; {state}. Lower the learning rate, or clip '
        f'the gradients (gradient_clip_val=...).'
    )
