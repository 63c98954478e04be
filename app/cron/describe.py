"""Plain-English descriptions of schedules (cron-descriptor, 24-hour clock)."""

from __future__ import annotations

from app.cron.parsing import ALIASES, validate_schedule


def describe_schedule(expr: str) -> str:
    """Plain English, 24-hour clock (``"At 09:00"``, ``"Every minute"``); never raises.

    Falls back to the expression itself when it is invalid or cannot be described.
    """
    try:
        if validate_schedule(expr) is not None:
            return str(expr)
        from cron_descriptor import ExpressionDescriptor, Options

        text = expr.strip()
        text = ALIASES.get(text.lower(), text)
        options = Options()
        options.use_24hour_time_format = True
        description = ExpressionDescriptor(" ".join(text.split()), options).get_description()
        return str(description) or str(expr)
    except Exception:
        return str(expr)
