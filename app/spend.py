"""Spend caps over calendar windows, and the hold after a usage limit: may a run start now?

An agent's ``dailyBudgetUsd`` / ``monthlyBudgetUsd`` and the settings' global
caps are checked before any run starts (scheduled, manual, retry). Days and
months are calendar windows in the stats time zone; what was spent comes from
the per-day rollups (one small read, never a scan of the runs). A window whose
spend has reached its cap refuses the run; otherwise the run may spend at most
what is left in every window (and its own ``maxBudgetUsd``), so a window is
overshot by at most what one API call costs. Runs going on at the same time
each get what was left when they started.

After a run ends with the subscription's usage-limit message, new starts are
held until the limit resets (:func:`usage_limit_reset`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.model import Agent
from app.settings import load_settings
from app.timeutil import DayCalendar, now_ms
from storage.interface import Storage

THRESHOLD = 0.8
"""The share of a cap at which ``budget.threshold`` is sent (once per window)."""
USAGE_HOLD = ("*", "usage.hold")
"""Alert-state key of the usage-limit hold: the instant (ms) new starts may resume."""
DEFAULT_USAGE_HOLD_MS = 5 * 3_600_000


def usd(amount: float) -> str:
    """``$5.00``; small amounts with the digits that tell them apart (``$0.0002``)."""
    if amount == 0 or abs(amount) >= 0.1:
        return f"${amount:,.2f}"
    return "$" + f"{amount:.6f}".rstrip("0")


@dataclass(frozen=True)
class Window:
    """One capped calendar window and what was spent in it."""

    scope: str
    """``agent`` or ``global``."""
    window: str
    """``daily`` or ``monthly``."""
    key: str
    """The window itself: ``2026-12-02`` or ``2026-12``."""
    cap: float
    spent: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.cap - self.spent)

    @property
    def reached(self) -> bool:
        return self.spent >= self.cap

    def refusal(self) -> str:
        """``budget: daily cap $5.00 reached, $5.02 spent today``."""
        which = "global " if self.scope == "global" else ""
        when = "today" if self.window == "daily" else "this month"
        return f"budget: {which}{self.window} cap {usd(self.cap)} reached, {usd(self.spent)} spent {when}"

    def json(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "window": self.window,
            "period": self.key,
            "capUsd": self.cap,
            "spentUsd": round(self.spent, 6),
        }


@dataclass(frozen=True)
class Verdict:
    """Whether a run may start, and with how much money."""

    refusal: str | None = None
    """Why not (a cap reached, the usage limit); None: it may."""
    window: Window | None = None
    """The cap that refused it, if one did."""
    max_budget_usd: float | None = None
    """What the run may spend (its own limit and what is left in every window); None: no limit."""
    windows: tuple[Window, ...] = ()


class SpendGate:
    """Decides whether runs may start (caps, usage hold) and what they may spend."""

    def __init__(self, store: Storage, calendar: DayCalendar, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.calendar = calendar
        self.clock = clock

    async def windows(self, agent: Agent) -> tuple[Window, ...]:
        """The capped windows of the agent and of the server, with what was spent in each."""
        settings = await load_settings(self.store)
        caps = (
            ("agent", "daily", agent.daily_budget_usd),
            ("agent", "monthly", agent.monthly_budget_usd),
            ("global", "daily", settings.daily_budget_usd),
            ("global", "monthly", settings.monthly_budget_usd),
        )
        if all(cap is None for _, _, cap in caps):
            return ()
        today = self.calendar.today(self.clock())
        day, month = today.isoformat(), today.isoformat()[:7]
        spend = await self.store.stats.window_spend(agent.id, day, f"{month}-01")
        spent = {
            ("agent", "daily"): spend.agent_day,
            ("agent", "monthly"): spend.agent_month,
            ("global", "daily"): spend.global_day,
            ("global", "monthly"): spend.global_month,
        }
        return tuple(
            Window(scope, window, day if window == "daily" else month, cap, spent[(scope, window)])
            for scope, window, cap in caps
            if cap is not None
        )

    async def held_until(self) -> int | None:
        """While new starts are held after a usage limit: until when (ms)."""
        value = await self.store.settings.alert_state(*USAGE_HOLD)
        if value is None:
            return None
        until = int(value)
        return until if until > self.clock() else None

    async def verdict(self, agent: Agent) -> Verdict:
        held = await self.held_until()
        if held is not None:
            return Verdict(refusal=f"usage limit reached: runs are held until {self.clock_text(held)}")
        windows = await self.windows(agent)
        for window in windows:
            if window.reached:
                return Verdict(refusal=window.refusal(), window=window, windows=windows)
        limits = [w.remaining for w in windows]
        if agent.max_budget_usd is not None:
            limits.append(agent.max_budget_usd)
        return Verdict(max_budget_usd=min(limits) if limits else None, windows=windows)

    async def hold(self, until: int) -> None:
        await self.store.settings.set_alert_state(*USAGE_HOLD, str(until), self.clock())

    def clock_text(self, ms: int) -> str:
        """``14:00 Europe/Berlin`` (the stats zone), with the date when not today."""
        zone = ZoneInfo(self.calendar.zone)
        moment = datetime.fromtimestamp(ms / 1000, zone)
        today = datetime.fromtimestamp(self.clock() / 1000, zone).date()
        text = moment.strftime("%H:%M") if moment.date() == today else moment.strftime("%Y-%m-%d %H:%M")
        return f"{text} {self.calendar.zone}"


_LIMIT = re.compile(r"(usage limit reached|limit reached\s*\W\s*resets|hit your [\w\s-]*limit)", re.I)
_EPOCH = re.compile(r"\|(\d{10})\b")
_RESETS = re.compile(
    r"resets?\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?(?:\s*\(([A-Za-z_]+/[A-Za-z_/]+|UTC)\))?", re.I
)


def usage_limit_reset(output: str | None, now: int, default_zone: str) -> int | None:
    """When a run's output is the subscription's usage-limit message: the reset instant (ms).

    Understands the Claude Code CLI's ``Claude AI usage limit reached|1767225600``
    (an epoch), ``You've hit your session limit · resets 3pm (Europe/Berlin)``
    and ``5-hour limit reached ∙ resets 3:30pm`` (a clock time: the next such
    time in that zone, or ``default_zone``). A limit message without a time
    holds for :data:`DEFAULT_USAGE_HOLD_MS`. None: not a usage limit.
    """
    if not output or not _LIMIT.search(output):
        return None
    epoch = _EPOCH.search(output)
    if epoch:
        return int(epoch.group(1)) * 1000
    found = _RESETS.search(output)
    if not found:
        return now + DEFAULT_USAGE_HOLD_MS
    hour, minute, half, zone_name = found.groups()
    hour, minute = int(hour), int(minute or 0)
    if half:
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    try:
        zone = ZoneInfo(zone_name or default_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo(default_zone)
    local_now = datetime.fromtimestamp(now / 1000, zone)
    reset = local_now.replace(hour=hour % 24, minute=minute % 60, second=0, microsecond=0)
    if reset <= local_now:
        reset += timedelta(days=1)
    return int(reset.astimezone(UTC).timestamp() * 1000)
