"""deep_pipe's `Checkpoints` (``CheckpointManager``): the newest states of some objects in ``checkpoint_<i>``.

Compared with deep_pipe (``dpipe.train.checkpoint``), on purpose:

* A checkpoint folder appears atomically: `CheckpointManager.save` writes every file (each fsynced) into the
  temporary folder ``.checkpoint_<i>.temporary`` and renames it to ``checkpoint_<i>`` only when all are written, so a
  crash never leaves a half-written ``checkpoint_<i>``: `CheckpointManager.restore` then uses the previous one,
  which is removed only after the new one is complete. A leftover temporary folder is removed by the next
  ``save`` of that iteration and never read.
* The "pickled" objects are not pickled: `save_pickle` stores ``state_dict()`` (policies have one), or else
  ``vars(obj)``, in the restricted format of ``dpipe_lightning._policies.state`` with ``torch.save``, and
  `load_pickle` reads it with ``torch.load(weights_only=True)``, so restoring never runs code from the file. It
  sets the state back with ``load_state_dict`` if the object has one, else attribute by attribute. A state the
  format cannot hold raises ``TypeError`` when saving, naming the object and the attribute. The pickles deep_pipe
  wrote are refused with an ``UnpicklingError`` that says so (the state dicts it wrote for torch objects load).
* `load_torch` loads with ``map_location='cpu'`` and ``weights_only=True``, then ``load_state_dict`` places the
  tensors on the object's device, so a checkpoint written on a GPU restores on a CPU-only machine.
* `CheckpointManager.restore` only considers folders named ``checkpoint_<digits>``; other entries of
  ``base_path`` (``checkpoint_best``, files, temporary folders) are ignored, where deep_pipe failed on them.
* `CheckpointManager.save` removes ``checkpoint_<i - 1>`` only if it exists (deep_pipe failed if it did not), and
  refuses to overwrite an existing ``checkpoint_<i>`` with ``FileExistsError`` before writing anything.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import re
import shutil
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .._checks import check_int, reject
from .._paths import atomic_write, expand_path
from .._policies.state import decode, encode

__all__ = ['CheckpointManager', 'Checkpoints', 'load_pickle', 'load_torch', 'save_pickle', 'save_torch']

_PREFIX = 'checkpoint_'
_FOLDER = re.compile(rf'^{_PREFIX}(\d+)$')


def _write(value: Any, path: Path) -> None:
    with atomic_write(path) as file:
        torch.save(value, file)


def _read(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f'the checkpoint has no file {str(path)!r}: was it written with other objects?')
    try:
        with warnings.catch_warnings():  # torch's note on the pickle protocol of a foreign file
            warnings.filterwarnings('ignore', 'Detected pickle protocol', UserWarning)
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(
            f'{str(path)!r} holds objects that only unpickling could restore: it was not written by '
            f"dpipe_lightning's CheckpointManager (deep_pipe pickled its policies). Such files are not loaded, since "
            f'unpickling can run any code; start from a new base_path.'
        ) from error


def save_pickle(o: Any, path: str | os.PathLike) -> None:
    """Save the state of ``o``: ``o.state_dict()`` if it has one, else ``vars(o)`` (restricted format, see above)."""
    state = o.state_dict() if callable(getattr(o, 'state_dict', None)) else vars(o)
    _write(encode(state, type(o).__name__), expand_path(path))


def load_pickle(o: Any, path: str | os.PathLike) -> None:
    """Restore the state `save_pickle` saved: ``o.load_state_dict(state)`` if it has one, else ``setattr``."""
    state = decode(_read(expand_path(path)))
    if callable(getattr(o, 'load_state_dict', None)):
        o.load_state_dict(state)
        return
    for name, value in state.items():
        setattr(o, name, value)


def save_torch(o: Any, path: str | os.PathLike) -> None:
    """``torch.save(o.state_dict(), path)``, written atomically."""
    _write(o.state_dict(), expand_path(path))


def load_torch(o: Any, path: str | os.PathLike) -> None:
    """``o.load_state_dict(...)`` with the state `save_torch` saved, read on the CPU first."""
    o.load_state_dict(_read(expand_path(path)))


def _unique_names(objects: Iterable[Any]) -> dict[str, Any]:
    """``{name: object}`` for a list of objects: the type's name, ``<name>_1``, ``<name>_2``... for repeated types."""
    named: dict[str, Any] = {}
    for o in objects:
        name, index = type(o).__name__, 0
        while name in named:
            index += 1
            name = f'{type(o).__name__}_{index}'
        named[name] = o
    return named


def _check_objects(name: str, objects: Any, listed: bool = False) -> dict[str, Any]:
    if objects is None:
        return {}
    if listed and not isinstance(objects, Mapping | str | bytes) and isinstance(objects, Iterable):
        objects = _unique_names(objects)
    if not isinstance(objects, Mapping):
        expected = 'None, a dict {file name: object} or a list of objects' if listed else 'None or a dict'
        reject(TypeError, name, expected + (' {file name: object}' if not listed else ''), objects)
    for key in objects:
        if not isinstance(key, str) or not key or Path(key).is_absolute() or '..' in Path(key).parts:
            reject(ValueError, f'{name} key', 'a relative file name inside the checkpoint folder', key)
    return dict(objects)


def _check_frequency(frequency: Any) -> float:
    if frequency is None or (isinstance(frequency, float) and frequency == math.inf):
        return math.inf
    return check_int('frequency', frequency, minimum=1)


def _is_torch_state(o: Any) -> bool:
    return isinstance(o, torch.nn.Module | torch.optim.Optimizer)


class Checkpoints:
    """Saves the state of some objects to ``<base_path>/checkpoint_<iteration>/<name>``; keeps the newest.

    Every release's form is taken:

    * ``Checkpoints(base_path, objects, frequency=None)`` (0.0.8 on; ``CheckpointManager`` is the same class):
      ``objects`` is ``{file name: object}`` or a list of objects (named after their types: ``Exponential``,
      ``Exponential_1``...); modules and optimizers are saved by `save_torch`, everything else by `save_pickle`.
    * ``CheckpointManager(base_path, pickled_objects=None, state_dict_objects=None)`` (0.0.7): the two dicts say
      which objects are saved by `save_pickle` and which by `save_torch`. A dict as the third positional argument
      is 0.0.7's ``state_dict_objects`` (a frequency is a number).

    Parameters
    ----------
    base_path
        the folder of the checkpoints; created on the first `save`.
    objects
        the objects to save, by file name (see above).
    frequency
        also keep every checkpoint ``k`` with ``(k + 1) % frequency == 0`` (e.g. 5: ``checkpoint_4``, ``_9``...);
        None keeps only the newest.
    pickled_objects, state_dict_objects
        0.0.7's form (see above).

    Notes
    -----
    ``objects`` is the dict of what is saved; an entry added to it later is saved too (by its type). Unlike
    deep_pipe, a checkpoint folder appears atomically, nothing is pickled and torch states load on the CPU first
    (see the module docstring).
    """

    def __init__(
        self,
        base_path: str | os.PathLike,
        objects: Mapping[str, Any] | Iterable[Any] | None = None,
        frequency: int | None = None,
        *,
        pickled_objects: Mapping[str, Any] | None = None,
        state_dict_objects: Mapping[str, Any] | None = None,
    ) -> None:
        self.base_path = expand_path(base_path)
        if isinstance(frequency, Mapping):  # 0.0.7: CheckpointManager(base_path, pickled_objects, state_dict_objects)
            if state_dict_objects is not None:
                raise TypeError('state_dict_objects was given twice: as the third argument and by keyword')
            objects, frequency, pickled_objects, state_dict_objects = None, None, objects, frequency
        self.frequency = _check_frequency(frequency)
        self.objects = _check_objects('objects', objects, listed=True)
        self._pickled = _check_objects('pickled_objects', pickled_objects)
        self._state_dicts = _check_objects('state_dict_objects', state_dict_objects)
        names = [*self.objects, *self._pickled, *self._state_dicts]
        if shared := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f'pickled_objects, state_dict_objects and objects must not share file names, got {shared}')
        for name, o in self._state_dicts.items():
            if not all(callable(getattr(o, method, None)) for method in ('state_dict', 'load_state_dict')):
                reject(TypeError, f'state_dict_objects[{name!r}]', 'an object with state_dict and load_state_dict', o)
        self.objects.update(self._pickled)
        self.objects.update(self._state_dicts)

    def _savers(self) -> Iterator[tuple[str, Any, Callable, Callable]]:
        for name, o in self.objects.items():
            torch_state = name in self._state_dicts or (name not in self._pickled and _is_torch_state(o))
            yield (name, o, save_torch, load_torch) if torch_state else (name, o, save_pickle, load_pickle)

    def _folder(self, iteration: int) -> Path:
        return self.base_path / f'{_PREFIX}{iteration}'

    def save(self, iteration: int, train_losses: Sequence[Any] | None = None, metrics: dict | None = None) -> None:
        """Save every object as ``checkpoint_<iteration>``, then remove ``checkpoint_<iteration - 1>`` unless
        ``frequency`` keeps it. ``train_losses`` and ``metrics`` (what deep_pipe's loop passes) are not used."""
        iteration = check_int('iteration', iteration, minimum=0)
        folder = self._folder(iteration)
        if folder.exists():
            raise FileExistsError(f'the checkpoint {str(folder)!r} already exists')
        temporary = self.base_path / f'.{folder.name}.temporary'
        shutil.rmtree(temporary, ignore_errors=True)  # left by a crash during an earlier save
        temporary.mkdir(parents=True)
        try:
            for name, o, save, _ in self._savers():
                save(o, temporary / name)
            temporary.rename(folder)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        _fsync_folder(self.base_path)
        if iteration and iteration % self.frequency != 0:
            shutil.rmtree(self._folder(iteration - 1), ignore_errors=True)

    def restore(self) -> int:
        """Restore every object from the newest checkpoint; returns its iteration + 1 (0 if there is none)."""
        newest = self.newest()
        if newest is None:
            return 0
        for name, o, _, load in self._savers():
            load(o, self._folder(newest) / name)
        return newest + 1

    def newest(self) -> int | None:
        """The iteration of the newest checkpoint (the one `restore` reads), or None if there is none."""
        if not self.base_path.exists():
            return None
        iterations = [int(m.group(1)) for p in self.base_path.iterdir() if (m := _FOLDER.match(p.name)) and p.is_dir()]
        return max(iterations, default=None)

    def has_file(self, iteration: int, name: str) -> bool:
        """Whether checkpoint ``iteration`` holds the file ``name``."""
        return (self._folder(iteration) / name).is_file()


#: deep_pipe 0.5's alias; in 0.0.7 the only name (with the ``pickled_objects``/``state_dict_objects`` form)
CheckpointManager = Checkpoints


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (as far as the file system allows)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
