"""deep_pipe's training API on PyTorch Lightning.

Public modules mirror deep_pipe: ``dpipe_lightning.torch``, ``dpipe_lightning.batch_iter``,
``dpipe_lightning.train.policy`` and ``dpipe_lightning.layers``.
"""

__version__ = '0.1.0'
