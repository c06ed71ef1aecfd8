"""Drive policies the way the training loop does (epoch hooks, optional step hooks with the index in the epoch)."""

from collections.abc import Callable, Sequence

import pytest

from dpipe_lightning.train.policy import EarlyStopping, Policy, ValuePolicy


def run_epochs(
    policy: Policy,
    epochs: Sequence[int],
    losses: Callable[[int], Sequence[float]] = lambda e: [1.0],
    metrics: Callable[[int], dict | None] = lambda e: None,
    steps_per_epoch: int = 0,
) -> dict:
    """Run the hooks for ``epochs`` like the loop does.

    Returns the values read before each step (once per epoch without steps) and the epoch in which
    `EarlyStopping` was raised (None if not).
    """
    values = []
    for epoch in epochs:
        try:
            policy.epoch_started(epoch)
            if steps_per_epoch == 0 and isinstance(policy, ValuePolicy):
                values.append(policy.value)
            epoch_losses = list(losses(epoch))
            for iteration in range(steps_per_epoch):
                policy.train_step_started(epoch, iteration)
                if isinstance(policy, ValuePolicy):
                    values.append(policy.value)
                policy.train_step_finished(epoch, iteration, epoch_losses[iteration % len(epoch_losses)])
            policy.epoch_finished(epoch, train_losses=epoch_losses, metrics=metrics(epoch))
        except EarlyStopping:
            return {'values': values, 'stopped_at': epoch}
    return {'values': values, 'stopped_at': None}


@pytest.fixture
def drive() -> Callable[..., dict]:
    return run_epochs


@pytest.fixture
def epoch_values() -> Callable[[Policy, int], list]:
    """The value used in each of epochs ``0 .. n - 1`` (constant train loss, no metrics)."""
    return lambda policy, n: run_epochs(policy, range(n))['values']
