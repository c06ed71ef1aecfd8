"""`Model`: the framework-independent interface of a trainable model (deep_pipe's ``dpipe.model.Model``)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

__all__ = ['Model']


class Model(ABC):
    """A trainable model: train and inference steps, saving and loading of its weights.

    `dpipe_lightning.torch.TorchModel` is registered as a virtual subclass, so ``isinstance(model, Model)`` holds
    for it.
    """

    @abstractmethod
    def do_train_step(self, *inputs: Any) -> Any:
        """One optimization step on a batch ``(inputs..., target)``; returns the loss."""

    @abstractmethod
    def do_inf_step(self, *inputs: Any) -> Any:
        """The prediction for a batch of inputs."""

    @abstractmethod
    def save(self, path: str | os.PathLike) -> Any:
        """Save the weights to ``path``."""

    @abstractmethod
    def load(self, path: str | os.PathLike, modify_state_fn: Callable[[dict, dict], dict] | None = None) -> Any:
        """Load the weights from ``path``; ``modify_state_fn(current, loaded)``, if given, returns the state to load.

        It helps to transfer weights between similar architectures.
        """
