"""deep_pipe's `CheckpointManager`: the newest state of some objects in ``<base_path>/checkpoint_<iteration>``.

Compared with deep_pipe 0.0.7 (``dpipe.train.checkpoint``), on purpose:

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
import os
import pickle
import re
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .._checks import check_int, reject
from .._paths import atomic_write, expand_path
from .._policies.state import decode, encode

__all__ = ['CheckpointManager', 'load_pickle', 'load_torch', 'save_pickle', 'save_torch']

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


def _check_objects(name: str, objects: Any) -> dict[str, Any]:
    if objects is None:
        return {}
    if not isinstance(objects, Mapping):
        reject(TypeError, name, 'None or a dict {file name: object}', objects)
    for key in objects:
        if not isinstance(key, str) or not key or Path(key).is_absolute() or '..' in Path(key).parts:
            reject(ValueError, f'{name} key', 'a relative file name inside the checkpoint folder', key)
    return dict(objects)


class CheckpointManager:
    """Saves the state of some objects to ``<base_path>/checkpoint_<iteration>`` and keeps only the newest.

    Parameters
    ----------
    base_path
        the folder of the checkpoints; created on the first `save`.
    pickled_objects
        ``{file name: object}``: objects saved with `save_pickle`, e.g. the training policies.
    state_dict_objects
        ``{file name: object}``: objects with ``state_dict``/``load_state_dict`` (modules, optimizers) saved with
        `save_torch`.

    Notes
    -----
    See the module docstring for the differences from deep_pipe 0.0.7 (atomic folders, no pickle, CPU loading).
    """

    def __init__(
        self,
        base_path: str | os.PathLike,
        pickled_objects: Mapping[str, Any] | None = None,
        state_dict_objects: Mapping[str, Any] | None = None,
    ) -> None:
        self.base_path = expand_path(base_path)
        pickled_objects = _check_objects('pickled_objects', pickled_objects)
        state_dict_objects = _check_objects('state_dict_objects', state_dict_objects)
        if shared := sorted(set(pickled_objects) & set(state_dict_objects)):
            raise ValueError(f'pickled_objects and state_dict_objects must not share file names, got {shared}')
        for name, o in state_dict_objects.items():
            if not all(callable(getattr(o, method, None)) for method in ('state_dict', 'load_state_dict')):
                reject(TypeError, f'state_dict_objects[{name!r}]', 'an object with state_dict and load_state_dict', o)
        self.objects = [(load_pickle, save_pickle, name, o) for name, o in pickled_objects.items()]
        self.objects.extend((load_torch, save_torch, name, o) for name, o in state_dict_objects.items())

    def _folder(self, iteration: int) -> Path:
        return self.base_path / f'{_PREFIX}{iteration}'

    def save(self, iteration: int) -> None:
        """Save the state of every object as ``checkpoint_<iteration>``, then remove ``checkpoint_<iteration - 1>``."""
        iteration = check_int('iteration', iteration, minimum=0)
        folder = self._folder(iteration)
        if folder.exists():
            raise FileExistsError(f'the checkpoint {str(folder)!r} already exists')
        temporary = self.base_path / f'.{folder.name}.temporary'
        shutil.rmtree(temporary, ignore_errors=True)  # left by a crash during an earlier save
        temporary.mkdir(parents=True)
        try:
            for _, save, name, o in self.objects:
                save(o, temporary / name)
            temporary.rename(folder)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        _fsync_folder(self.base_path)
        if iteration:
            shutil.rmtree(self._folder(iteration - 1), ignore_errors=True)

    def restore(self) -> int:
        """Restore every object from the newest checkpoint; returns its iteration + 1 (0 if there is none)."""
        if not self.base_path.exists():
            return 0
        iterations = [int(m.group(1)) for p in self.base_path.iterdir() if (m := _FOLDER.match(p.name)) and p.is_dir()]
        if not iterations:
            return 0
        newest = max(iterations)
        for load, _, name, o in self.objects:
            load(o, self._folder(newest) / name)
        return newest + 1


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (as far as the file system allows)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
