"""Training: deep_pipe's generic loop (`train`), what a run logged (`History`), policies (:mod:`.policy`), loggers
(:mod:`.logging`), validation helpers (:mod:`.validator`) and checkpoints (:mod:`.checkpoint`).

The one-call entry point, :func:`dpipe_lightning.torch.train_model`, lives with ``TorchModel`` as in deep_pipe.
"""

from typing import Any

from .._logs.history import History

__all__ = ['History', 'train']


def __getattr__(name: str) -> Any:
    # `train` runs on the Trainer that dpipe_lightning.torch builds, which itself imports this package's modules:
    # it is imported when first asked for
    if name == 'train':
        from .._run.generic_loop import train

        return train
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
