"""Policy state in a restricted format that checkpoints load with ``torch.load(weights_only=True)``.

Plain data (``None``, bools, numbers, strings, bytes, lists, tuples, sets, dicts) and torch tensors are stored as
they are. A few common types that ``weights_only`` loading refuses are stored as tagged dicts and rebuilt exactly:
``collections.deque``, ``frozenset``, numpy arrays and scalars (not of object dtype), ``np.random.RandomState``,
``np.random.Generator``, ``random.Random``, and dicts whose keys are not plain. Anything else is refused with a
``TypeError`` naming where it was found.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from typing import Any

import numpy as np
import torch

__all__ = ['decode', 'encode']

_TAG = '__dpipe_lightning__'
_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def _plain_key(key: Any) -> bool:
    return type(key) in _PLAIN or (type(key) is tuple and all(_plain_key(item) for item in key))


def encode(value: Any, where: str) -> Any:
    """``value`` in the restricted format; ``TypeError`` naming ``where`` for a type it cannot hold."""
    kind = type(value)
    if kind in _PLAIN or isinstance(value, torch.Tensor):
        return value
    if kind in (list, tuple, set):
        return kind(encode(item, f'{where}[{i}]') for i, item in enumerate(value))
    if kind in (dict, OrderedDict):
        if all(_plain_key(key) for key in value) and _TAG not in value:
            return kind((key, encode(item, f'{where}[{key!r}]')) for key, item in value.items())
        pairs = [
            [encode(key, f'{where} key {key!r}'), encode(item, f'{where}[{key!r}]')] for key, item in value.items()
        ]
        return {_TAG: 'dict', 'ordered': kind is OrderedDict, 'items': pairs}
    if kind is frozenset:
        return {_TAG: 'frozenset', 'items': [encode(item, f'{where} item') for item in value]}
    if kind is deque:
        return {
            _TAG: 'deque',
            'items': [encode(item, f'{where}[{i}]') for i, item in enumerate(value)],
            'maxlen': value.maxlen,
        }
    if isinstance(value, np.ndarray | np.generic) and value.dtype.kind not in 'OV':
        array = np.asarray(value)
        return {_TAG: 'numpy', 'scalar': isinstance(value, np.generic), 'dtype': array.dtype.str,
                'shape': list(array.shape), 'data': np.ascontiguousarray(array).tobytes()}  # fmt: skip
    if kind is np.random.RandomState:
        return {_TAG: 'RandomState', 'state': encode(value.get_state(), where)}
    if kind is np.random.Generator:
        bits = value.bit_generator
        return {_TAG: 'Generator', 'bit_generator': type(bits).__name__, 'state': encode(bits.state, where)}
    if kind is random.Random:
        return {_TAG: 'Random', 'state': encode(value.getstate(), where)}
    raise TypeError(
        f'{where} holds {value!r} of type {kind.__module__}.{kind.__qualname__}, which a checkpoint cannot store. '
        f'Policy state may hold numbers, strings, bytes, None, lists, tuples, sets, dicts, deques, numpy arrays, '
        f'numpy and Python random generators and torch tensors; for other objects override state_dict and '
        f'load_state_dict to store them as such data.'
    )


def decode(value: Any) -> Any:
    """The object that ``encode`` stored."""
    kind = type(value)
    if kind in (list, tuple, set):
        return kind(decode(item) for item in value)
    if kind not in (dict, OrderedDict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return kind((key, decode(item)) for key, item in value.items())
    if tag == 'dict':
        pairs = ((decode(key), decode(item)) for key, item in value['items'])
        return OrderedDict(pairs) if value['ordered'] else dict(pairs)
    if tag == 'frozenset':
        return frozenset(decode(item) for item in value['items'])
    if tag == 'deque':
        return deque((decode(item) for item in value['items']), maxlen=value['maxlen'])
    if tag == 'numpy':
        array = np.frombuffer(value['data'], dtype=np.dtype(value['dtype'])).reshape(value['shape']).copy()
        return array[()] if value['scalar'] else array
    if tag == 'RandomState':
        generator = np.random.RandomState()
        generator.set_state(decode(value['state']))
        return generator
    if tag == 'Generator':
        generator = np.random.Generator(getattr(np.random, value['bit_generator'])())
        generator.bit_generator.state = decode(value['state'])
        return generator
    if tag == 'Random':
        generator = random.Random()
        generator.setstate(decode(value['state']))
        return generator
    raise ValueError(f'unknown stored type {tag!r}: the checkpoint was written by a newer dpipe_lightning')
