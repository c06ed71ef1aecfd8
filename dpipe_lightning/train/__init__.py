"""Training: deep_pipe's generic loop (`train`), what a run logged (`History`), policies (:mod:`.policy`), loggers
(:mod:`.logging`), validation helpers (:mod:`.validator`) and checkpoints (:mod:`.checkpoint`).

The one-call entry point, :func:`dpipe_lightning.torch.train_model`, lives with ``TorchModel`` as in deep_pipe.
"""

from typing import Any

from .._logs.history import History

__all__ = ['History', 'train']


def __getattr__(name: str) -> Any:
    # `train` (the run on a Lightning Trainer) is imported when first asked for: importing the policies, which are
    # plain Python, imports neither Lightning nor the run
    if name == 'train':
        from .._run.generic_loop import train

        return train
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
