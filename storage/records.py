"""The records storage and its callers pass each other: a run's outcome, a settlement, alerts.

Plain frozen dataclasses; :mod:`storage.interface` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run recorded."""

    status: str
    output: str | None
    completed_at: int
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    num_turns: int | None = None


@dataclass(frozen=True)
class NewDelivery:
    """An alert to one channel, to be sent by the deliverer."""

    id: str
    channel_id: str
    event: str
    payload: str
    """The JSON body (a webhook's body as is; Slack and email are written from it)."""
    agent_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Alert:
    """Deliveries raised together, at most once per ``once`` = (scope, kind, value).

    With ``once``, nothing is recorded when the alert state ``(scope, kind)``
    already holds ``value`` (e.g. the budget window already alerted); else the
    state is set to it with the deliveries, in one transaction.
    """

    deliveries: Sequence[NewDelivery]
    once: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class RetryRun:
    """The next attempt of a run that ended in error, queued until ``not_before``."""

    run_id: str
    attempt: int
    retry_of: str
    not_before: int
    owner: str


@dataclass(frozen=True)
class ChainedRun:
    """A run started by the end of another (its agent's ``onSuccess`` / ``onFailure``).

    Queued with trigger ``chain``, or, with ``skipped``, recorded ``skipped`` with that reason.
    """

    run_id: str
    agent_id: str
    parent_run_id: str
    input: str | None
    owner: str
    skipped: str | None = None


@dataclass(frozen=True)
class Settlement:
    """What follows the end of a run: the agent's failure streak, a retry, a pause, alerts.

    Applied only if the run is still unsettled and the agent's streak is still
    ``expected_streak`` (else :meth:`RunStore.settle` answers ``conflict`` and
    the caller decides again from fresh rows).
    """

    run_id: str
    agent_id: str
    at: int
    """When it was decided (ms): the time of the pause, the queued retry and the alerts."""
    expected_streak: int
    streak: int
    pause_reason: str | None = None
    retry: RetryRun | None = None
    alerts: Sequence[Alert] = ()
    chained: Sequence[ChainedRun] = ()


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one try of a delivery."""

    id: str
    status: str
    """``sent``, ``failed`` (given up), or ``pending`` (tried again at ``next_attempt_at``)."""
    attempts: int
    error: str | None
    at: int
    next_attempt_at: int | None = None


@dataclass(frozen=True)
class WindowSpend:
    """What was spent in the current day and month (the stats zone), by one agent and by all."""

    agent_day: float
    agent_month: float
    global_day: float
    global_month: float
