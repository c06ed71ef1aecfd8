"""How far a run got: its epochs and steps and the losses of the epoch in progress; its methods are its only writers."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

__all__ = ['Progress', 'StepIndex']


class StepIndex(NamedTuple):
    """Where a step is: its ``epoch``, its ``iteration`` inside the epoch and its ``step`` in the whole run (from 0)."""

    epoch: int
    iteration: int
    step: int


class Progress:
    """The counters of one run, saved in its checkpoints.

    Attributes
    ----------
    epoch
        the epoch in progress (after it finished, until the next one starts: the one that finished).
    finished_epochs
        the epochs whose steps all ran (training resumes at this epoch).
    steps
        the steps started in the whole run.
    steps_in_epoch
        the steps started in the epoch in progress.
    in_epoch
        an epoch is in progress: started, its end not yet reached (False before the first epoch, between epochs, and
        when a policy stopped training as an epoch started).
    losses
        the losses of the epoch's steps so far, on the device (read once, at the epoch's end).
    loss_names
        the names of the epoch's losses where its steps return a dict of them (the order of each loss vector).
    skipped
        the steps of the epoch skipped for a non-finite loss (``nonfinite_loss='skip'``).
    """

    def __init__(self, first_epoch: int = 0) -> None:
        self.epoch = first_epoch
        self.finished_epochs = first_epoch
        self.steps = 0
        self.steps_in_epoch = 0
        self.in_epoch = False
        self.losses: list[torch.Tensor] = []
        self.loss_names: tuple[str, ...] | None = None
        self.skipped = 0

    def start_epoch(self, epoch: int) -> None:
        """Epoch ``epoch`` starts (its steps will run)."""
        self.epoch, self.in_epoch = epoch, True
        self.steps_in_epoch, self.losses, self.skipped, self.loss_names = 0, [], 0, None

    def start_step(self) -> StepIndex:
        """A step starts: its index, counted before this step."""
        index = StepIndex(self.epoch, self.steps_in_epoch, self.steps)
        self.steps += 1
        self.steps_in_epoch += 1
        return index

    def record_loss(self, loss: torch.Tensor, names: tuple[str, ...] | None = None) -> None:
        """The loss of the step just taken (kept on its device: no host sync); ``names``: of a dict of losses."""
        if names != self.loss_names:
            if self.losses:
                raise ValueError(
                    f'a step of epoch {self.epoch} returned the losses {_form(names)}, the steps before it '
                    f'{_form(self.loss_names)}: every step of an epoch must return the same losses'
                )
            self.loss_names = names
        self.losses.append(loss.detach() if loss.requires_grad else loss)

    def skip_step(self) -> None:
        """The step just taken was skipped (its loss was not finite): it has no loss to record."""
        self.skipped += 1

    def running_loss(self) -> float | None:
        """The epoch's mean loss so far (one device sync), or ``None`` before its first loss."""
        if not self.losses:
            return None
        return float(torch.stack(self.losses).float().mean())

    def finish_epoch(self) -> None:
        """The epoch's end is reached: it counts as finished from now on."""
        self.finished_epochs, self.in_epoch = self.epoch + 1, False

    # ---- checkpoint state ----

    def state_dict(self) -> dict[str, Any]:
        """What every rank shares (plain data)."""
        return {
            'epochs_done': self.finished_epochs,
            'steps_done': self.steps,
            'steps_in_epoch': self.steps_in_epoch,
            'in_epoch': self.in_epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.finished_epochs = self.epoch = int(state['epochs_done'])
        self.steps, self.steps_in_epoch = int(state['steps_done']), int(state['steps_in_epoch'])
        # saved inside an epoch, it goes on (Lightning starts no new one); 'epoch_ran': written by version 0.1
        self.in_epoch = bool(state.get('in_epoch', state.get('epoch_ran', False)))

    def rank_state_dict(self) -> dict[str, Any]:
        """What is this rank's own: its partial epoch's losses (on the CPU)."""
        losses = torch.stack(self.losses).cpu() if self.losses else torch.zeros(0)
        names = None if self.loss_names is None else list(self.loss_names)
        return {'losses': losses, 'skipped_in_epoch': self.skipped, 'loss_names': names}

    def load_rank_state_dict(self, state: dict[str, Any]) -> None:
        self.losses, self.skipped = list(state['losses'].unbind()), int(state['skipped_in_epoch'])
        names = state.get('loss_names')  # written since dicts of losses are recorded
        self.loss_names = None if names is None else tuple(names)

    def losses_to(self, device: torch.device) -> None:
        """Put restored losses where the run computes (they load on the CPU)."""
        self.losses = [loss.to(device) for loss in self.losses]


def _form(names: tuple[str, ...] | None) -> str:
    return 'without names' if names is None else f'named {list(names)}'
