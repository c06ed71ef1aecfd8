"""Whether a run goes on: one explicit state machine for every way a run stops."""

from __future__ import annotations

import enum
import signal
from typing import Any

import lightning as L

__all__ = ['Paused', 'Preempted', 'Stop', 'StopState']


class StopState(enum.Enum):
    """Where a run is on its way to stopping.

    ``RUNNING`` → ``REQUESTED`` (a policy, the step or ``validate`` raised ``EarlyStopping``: the epoch finishes first)
    → ``STOPPED`` (decided at an epoch's end, by every rank together; a relaunch trains no further).
    ``RUNNING``/``REQUESTED`` → ``PREEMPTED`` (every rank agreed on a stop signal: the run saves its step and exits
    with ``128 + signal``) or ``PAUSED`` (``max_time`` is up: the run saves its step and returns; the same call
    resumes it).
    """

    RUNNING = 'running'
    REQUESTED = 'requested'
    STOPPED = 'stopped'
    PREEMPTED = 'preempted'
    PAUSED = 'paused'


class Preempted(SystemExit):
    """Training stopped on a stop signal after saving its step; the exit status is ``128 + signal``.

    ``requeue``: the signal was SLURM's requeue signal, and the job is to be requeued.
    """

    def __init__(self, signum: int, requeue: bool = False) -> None:
        super().__init__(128 + signum)
        self.signum = signum
        self.requeue = requeue


class Paused(Exception):
    """Training ended for now (``max_time`` is up) after saving its step; the same call resumes it."""


class Stop:
    """The run's stop state; its methods are the only transitions."""

    def __init__(self) -> None:
        self.state = StopState.RUNNING
        self.signum: int | None = None  # PREEMPTED: the agreed signal
        self.requeue = False  # PREEMPTED: the SLURM job is to be requeued
        self._requested_before = False  # PREEMPTED: a stop had been requested (a relaunch still honours it)

    @property
    def requested(self) -> bool:
        return self.state is StopState.REQUESTED

    @property
    def stopped(self) -> bool:
        return self.state is StopState.STOPPED

    @property
    def preempted(self) -> bool:
        return self.state is StopState.PREEMPTED

    @property
    def ending(self) -> bool:
        """The run ends after saving its step, to be resumed (preempted, or paused)."""
        return self.state is StopState.PREEMPTED or self.state is StopState.PAUSED

    def request(self) -> None:
        """Something asked to stop: the epoch in progress finishes, then the ranks decide (`decide`)."""
        if self.state is StopState.RUNNING:
            self.state = StopState.REQUESTED

    def decide(self, stop: bool) -> None:
        """At an epoch's start or end: the ranks' common decision (a stopped run stays stopped)."""
        if self.state in (StopState.RUNNING, StopState.REQUESTED):
            self.state = StopState.STOPPED if stop else StopState.RUNNING

    def decide_together(self, trainer: L.Trainer, stop: bool) -> bool:
        """At an epoch's start or end, every rank together: stop if any rank would (an unsynchronised stop
        deadlocks DDP); Lightning ends the fit after the epoch. Returns the decision."""
        stop = trainer.strategy.reduce_boolean_decision(bool(stop), all=False)
        trainer.should_stop = stop
        self.decide(stop)
        return stop

    def preempt(self, signum: int, requeue: bool) -> None:
        """Every rank agreed on the stop signal ``signum``."""
        if self.state is not StopState.PREEMPTED:
            self._requested_before = self.requested
            self.state, self.signum, self.requeue = StopState.PREEMPTED, signum, requeue

    def pause(self) -> None:
        """``max_time`` is up."""
        if self.state in (StopState.RUNNING, StopState.REQUESTED):
            self._requested_before = self.requested
            self.state = StopState.PAUSED

    def exit(self) -> Preempted | Paused:
        """The exception that ends a preempted or paused run (after its step was saved)."""
        if self.state is StopState.PAUSED:
            return Paused('max_time is up')
        assert self.signum is not None, 'only a preempted or paused run exits'
        return Preempted(self.signum, self.requeue)

    def describe(self) -> str:
        if self.preempted:
            return f'preempted by {signal.Signals(self.signum).name}'
        return self.state.value

    # ---- checkpoint state: a preemption is never saved (the relaunch goes on) ----

    def state_dict(self) -> dict[str, Any]:
        requested = self.requested or (self.ending and self._requested_before)
        return {'stop_requested': requested, 'stopped': self.stopped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state, self.signum, self.requeue = StopState.RUNNING, None, False
        if state['stopped']:
            self.state = StopState.STOPPED
        elif state['stop_requested']:
            self.state = StopState.REQUESTED
