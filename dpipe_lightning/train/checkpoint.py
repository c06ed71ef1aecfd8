"""Checkpoints of arbitrary objects between epochs (deep_pipe's ``dpipe.train.checkpoint``).

`Checkpoints` (``CheckpointManager`` is the same class, in any release's form) keeps the newest state of some
objects in ``<base_path>/checkpoint_<iteration>/<name>``. Unlike deep_pipe, a checkpoint folder appears atomically
(a crash never leaves a half-written one), the "pickled" objects are stored without pickle (restricted plain-data
format, loaded with ``weights_only=True``), and torch states load on the CPU first (device-portable); see
``dpipe_lightning._checkpoints.manager`` for the details. ``train_model`` does not use it: it writes Lightning
checkpoints.
"""

from .._checkpoints.manager import CheckpointManager, Checkpoints, load_pickle, load_torch, save_pickle, save_torch

__all__ = ['CheckpointManager', 'Checkpoints', 'load_pickle', 'load_torch', 'save_pickle', 'save_torch']
