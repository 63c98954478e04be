"""An agent's secrets (``env``): sealed at rest, merged by name, opened only for its runs.

A request writes ``{"NAME": "value"}`` (``null`` deletes ``NAME``; names not
sent are kept); every answer shows the names with :data:`SECRET_MASK`. A
client that sends back what it read (the mask) keeps the stored value. Values
are stored sealed with the server's key (:class:`~app.secret_box.SecretBox`,
Fernet): the database file never holds them in the clear. The runner opens
them into the run's environment, and the redactor replaces them in every event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from app.errors import ServiceError, ValidationError
from app.model.secrets import SECRET_MASK
from app.secret_box import SecretBox


def sealed_env(sent: Mapping[str, str | None], stored: str | None, box: SecretBox | None) -> str:
    """The ``env`` column after a request: ``stored`` (sealed JSON) with ``sent`` applied."""
    sealed: dict[str, str] = json.loads(stored or "{}")
    for name, value in sent.items():
        if value is None:
            sealed.pop(name, None)
        elif value == SECRET_MASK:
            if name not in sealed:
                raise ValidationError(
                    {"env": f"{name}: {SECRET_MASK} is how a value is shown: send the value"}
                )
        else:
            if box is None:
                raise ServiceError("This server keeps no secrets (it has no secret key)")
            sealed[name] = box.seal(value)
    return json.dumps(sealed, sort_keys=True)


def open_env(sealed: Mapping[str, str], box: SecretBox) -> dict[str, str]:
    """The agent's secrets in the clear, for its run's environment (raises SecretUnreadable)."""
    return {name: box.open(value) for name, value in sealed.items()}
