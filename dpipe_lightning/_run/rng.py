"""The global random generators' states (torch, CUDA, numpy, Python) as tensors and plain data."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ['rng_states', 'set_rng_states']


def rng_states() -> dict[str, Any]:
    """Every global RNG's state, loadable with ``torch.load(weights_only=True)``."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, python_gauss = random.getstate()
    states = {
        'torch': torch.get_rng_state(),
        'numpy': [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(gauss)],
        'python': [version, list(python_state), python_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what `rng_states` returned."""
    torch.set_rng_state(states['torch'])
    kind, keys, position, has_gauss, gauss = states['numpy']
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, python_state, python_gauss = states['python']
    random.setstate((version, tuple(python_state), python_gauss))
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])
