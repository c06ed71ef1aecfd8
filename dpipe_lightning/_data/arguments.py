"""Checks of `Infinite`'s arguments and of the state dicts it loads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._checks import check_int, reject

STATE_VERSION = 1


def resolve_batches_per_epoch(batches_per_epoch: Any, n_iters_per_epoch: Any) -> int:
    """The number of batches per epoch, given by its new or its tutorial-era name."""
    if batches_per_epoch is None and n_iters_per_epoch is None:
        raise TypeError('Infinite needs batches_per_epoch (or its old name n_iters_per_epoch), got neither')
    if batches_per_epoch is None:
        return check_int('n_iters_per_epoch', n_iters_per_epoch, minimum=1)
    value = check_int('batches_per_epoch', batches_per_epoch, minimum=1)
    if n_iters_per_epoch is not None and n_iters_per_epoch != value:
        raise TypeError(
            'batches_per_epoch and n_iters_per_epoch are the same parameter (old and new name) and differ: '
            f'got {batches_per_epoch!r} and {n_iters_per_epoch!r}; pass only one'
        )
    return value


def check_state(state: Any) -> tuple[int, int, int | None]:
    """``(batches_consumed, items_consumed, source_position)`` of a state from ``Infinite.state_dict()``."""
    if not isinstance(state, Mapping):
        reject(TypeError, 'state', 'a dict from Infinite.state_dict()', state)
    missing = {'version', 'batches_consumed', 'items_consumed', 'source_position'} - set(state)
    if missing:
        raise ValueError(f'state is missing the keys {sorted(missing)}: not an Infinite.state_dict()')
    if state['version'] != STATE_VERSION:
        raise ValueError(f'unsupported state version {state["version"]!r}, expected {STATE_VERSION}')
    batches = check_int("state['batches_consumed']", state['batches_consumed'], minimum=0)
    items = check_int("state['items_consumed']", state['items_consumed'], minimum=0)
    position = state['source_position']
    if position is not None:
        position = check_int("state['source_position']", position, minimum=0)
    return batches, items, position
