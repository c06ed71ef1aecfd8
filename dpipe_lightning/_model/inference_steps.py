"""deep_pipe's functional inference steps (``dpipe.torch.model``, 0.0.8 on): `inference_step`, `multi_inference_step`.

Both take numpy arrays and return numpy arrays, run the architecture in eval mode under ``torch.inference_mode`` and,
with ``amp``, under autocast with float16 inputs (also when the caller already runs under CUDA's autocast).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_bool, check_callable, reject
from .._itertools import identity, zip_equal
from .conversion import sequence_to_var, to_np
from .devices import get_device

__all__ = ['inference_step', 'multi_inference_step']


@contextlib.contextmanager
def _inference(
    inputs: tuple[Any, ...], architecture: nn.Module, amp: bool, cache: bool, in_dtype: torch.dtype | None
) -> Iterator[Any]:
    """Yield ``architecture(*inputs)`` computed in eval mode, without autograd, under autocast with ``amp``."""
    if not isinstance(architecture, nn.Module):
        reject(TypeError, 'architecture', 'a torch.nn.Module', architecture)
    device = get_device(architecture)
    amp = check_bool('amp', amp) or torch.is_autocast_enabled('cuda')
    if in_dtype is None and amp:
        in_dtype = torch.float16
    architecture.eval()
    autocast = torch.autocast(device.type, dtype=torch.float16, cache_enabled=check_bool('amp_cache_enabled', cache))
    with torch.inference_mode(), autocast if amp else contextlib.nullcontext():
        yield architecture(*sequence_to_var(*inputs, device=device, dtype=in_dtype))


def inference_step(
    *inputs: Any,
    architecture: nn.Module,
    activation: Callable[[torch.Tensor], torch.Tensor] = identity,
    amp: bool = False,
    amp_cache_enabled: bool = True,
    in_dtype: torch.dtype | None = None,
    out_dtype: torch.dtype | None = None,
) -> np.ndarray:
    """``activation(architecture(*inputs))`` as a numpy array (cast to ``out_dtype`` if given).

    Parameters
    ----------
    inputs
        numpy arrays (or anything `to_var` takes), moved to ``architecture``'s device.
    architecture
        the network, put in eval mode.
    activation
        applied to the output, e.g. ``torch.sigmoid``.
    amp
        run under autocast (float16) and give the network float16 inputs unless ``in_dtype`` says otherwise.
    amp_cache_enabled
        autocast's weight cache.
    in_dtype, out_dtype
        the dtypes of the inputs and of the result; None keeps them.
    """
    check_callable('activation', activation)
    with _inference(inputs, architecture, amp, amp_cache_enabled, in_dtype) as output:
        return to_np(activation(output), dtype=out_dtype)


def multi_inference_step(
    *inputs: Any,
    architecture: nn.Module,
    activations: Callable[[torch.Tensor], torch.Tensor] | Sequence[Callable | None] = identity,
    amp: bool = False,
    amp_cache_enabled: bool = True,
    in_dtype: torch.dtype | None = None,
    out_dtype: torch.dtype | None = None,
) -> list[np.ndarray]:
    """`inference_step` for an architecture returning several tensors: a list of numpy arrays, one per output.

    ``activations`` is one callable for every output, or one per output (None leaves that output as it is;
    ``ValueError`` if their number differs from the outputs'). The other parameters are `inference_step`'s.
    """
    if not callable(activations):
        activations = list(activations)
        for index, activation in enumerate(activations):
            if activation is not None:
                check_callable(f'activations[{index}]', activation)
    with _inference(inputs, architecture, amp, amp_cache_enabled, in_dtype) as outputs:
        outputs = list(outputs)
        if callable(activations):
            activations = [activations] * len(outputs)
        return [
            to_np(output if activation is None else activation(output), dtype=out_dtype)
            for activation, output in zip_equal(activations, outputs)
        ]
