"""The server-wide settings: spend caps over all agents and the default alert channels."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from app.model.agent import CHANNEL_ID_MAX_LENGTH, MAX_BUDGET_USD, MAX_NOTIFY_CHANNELS
from app.model.rules import INTEGRAL, UNIQUE, Form, Wording, request_model

MAX_CLUSTER_RUNS = 100_000

_CAP_WORDING = Wording(
    type="must be a number greater than 0, or null for no cap",
    greater_than="must be greater than 0, or null for no cap",
)


class Settings(BaseModel):
    """What applies to every agent."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    daily_budget_usd: Annotated[
        float | None, Field(gt=0, le=MAX_BUDGET_USD * 100, allow_inf_nan=False), _CAP_WORDING, Form("no cap")
    ] = Field(
        None,
        title="Daily cap (USD)",
        description="Most all agents together may spend in a calendar day (stats time zone); null: no cap",
        examples=[20],
    )
    monthly_budget_usd: Annotated[
        float | None,
        Field(gt=0, le=MAX_BUDGET_USD * 3100, allow_inf_nan=False),
        _CAP_WORDING,
        Form("no cap"),
    ] = Field(
        None,
        title="Monthly cap (USD)",
        description="Most all agents together may spend in a calendar month; null: no cap",
        examples=[400],
    )
    notify_channels: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=CHANNEL_ID_MAX_LENGTH)]],
        Field(max_length=MAX_NOTIFY_CHANNELS),
        Wording(type="must be a list of channel ids", item="each channel id"),
        UNIQUE,
    ] = Field(
        [],
        title="Default channels",
        description="Channels for the alerts of agents that name none, and for the global caps",
    )
    max_concurrent_runs: Annotated[
        Annotated[int, Field(ge=1, le=MAX_CLUSTER_RUNS), INTEGRAL] | None, Form("no limit")
    ] = Field(
        None,
        title="Cluster run limit",
        description="Most runs running at once over every server sharing the database (more wait "
        "queued); null: only each server's own --max-concurrent-runs",
        examples=[20],
    )


SettingsUpdate = request_model(
    Settings, "SettingsUpdate", "The settings to change: only the fields sent.", update=True
)
