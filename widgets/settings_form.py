"""SettingsForm: the server-wide settings (global spend caps, default alert channels).

The fields come from the typed model (:class:`app.model.settings.Settings`); the
default channels are picked by name, as an agent's notify channels are.
"""

from __future__ import annotations

from app.model.fields import specs_of
from app.model.settings import Settings
from widgets.spec_form import SpecForm


class SettingsForm(SpecForm):
    """The settings dialog's body (see :class:`~widgets.spec_form.SpecForm` for the messages)."""

    FIELDS = specs_of(Settings)
    CHANNEL_PICKERS = frozenset({"notifyChannels"})

    DEFAULT_CSS = """
    SettingsForm {
        height: auto;
        max-height: 100%;
    }
    SettingsForm > #form-scroll {
        height: auto;
    }
    """
