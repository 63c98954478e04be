"""Signed inbound webhooks: an agent's trigger secret, and the deliveries that start it.

``POST /api/agents/:id/trigger-secret`` creates or rotates the agent's secret
(generated ``whsec_…``, or one given of at least 16 characters) and answers it
once; it is stored sealed (:mod:`app.secret_box`). ``POST /hooks/agents/:id``
needs no token: a delivery is accepted only with a valid signature of its raw
body under that secret, in either scheme:

* GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``, the key
  being the secret as typed (the whole ``whsec_…`` text); delivery id
  ``X-GitHub-Delivery``. GitHub signs no time, so the signature itself is also
  kept as a delivery id: a captured request replayed under another delivery
  id starts nothing either.
* Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (within 5 minutes)
  and ``webhook-signature: v1,<base64>``, checked by the ``standardwebhooks``
  library (the key is the base64 after ``whsec_``); delivery id ``webhook-id``.

A bad or missing signature is a 401 and starts nothing; an agent without a
secret (or no agent) is a 404; both count as failures of the client's address,
throttled as failed tokens are (:mod:`app.throttle`: 429 past the limit, in a
window of their own; a valid signature is never refused). A delivery id seen
before (kept :data:`DELIVERY_MEMORY_MS`) starts no second run: the answer names
the first run. The run's input is the body, JSON pretty-printed (other text as
is); its trigger is ``webhook``. The run row and the delivery ids are written in
one transaction, so a delivery starts one run however many servers receive it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook

from app.auth import new_id
from app.channel_service import new_secret
from app.errors import Conflict, NotFound, ServiceError, TooManyRequests, ValidationError
from app.model import agent_from_row, agent_json
from app.model.triggers import hook_path
from app.runner import Runner
from app.secret_box import SecretBox, SecretUnreadable
from app.service import AgentService
from app.throttle import FailureThrottle
from app.timeutil import now_ms
from storage.interface import Row, Storage

log = logging.getLogger("cronagents.inbound")

DELIVERY_MEMORY_MS = 7 * 86_400_000
"""How long a delivery id is remembered (GitHub redelivers deliveries of the past 3 days)."""
SECRET_MIN_LENGTH = 16
SECRET_MAX_LENGTH = 200
GITHUB_SIGNATURE = "x-hub-signature-256"
GITHUB_DELIVERY = "x-github-delivery"
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
AUTHENTICATE = 'Signature realm="cronagents-hooks", headers="X-Hub-Signature-256 or webhook-signature"'


class BadSignature(ServiceError):
    status_code = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers["WWW-Authenticate"] = AUTHENTICATE


class InboundHooks:
    """Trigger secrets and signed deliveries (see the module docstring)."""

    def __init__(
        self,
        service: AgentService,
        runner: Runner,
        secrets: SecretBox,
        throttle: FailureThrottle,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.service = service
        self.store: Storage = service.store
        self.runner = runner
        self.secrets = secrets
        self.throttle = throttle
        self.clock = clock

    # -- the secret ------------------------------------------------------------------

    async def set_secret(self, agent_id: str, body: Any) -> dict[str, Any]:
        """Create or rotate the agent's trigger secret; answered once (``{"secret", "url"}``)."""
        if not isinstance(body, Mapping):
            raise ValidationError({"body": "must be a JSON object"}, "Request body must be a JSON object")
        unknown = {str(key): "unknown field" for key in body if key != "secret"}
        if unknown:
            raise ValidationError(unknown)
        secret = body.get("secret")
        if secret is None:
            secret = new_secret()
        elif not isinstance(secret, str) or not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH:
            raise ValidationError(
                {"secret": f"must be a text of {SECRET_MIN_LENGTH} to {SECRET_MAX_LENGTH} characters"}
            )
        elif "\x00" in secret:
            raise ValidationError({"secret": "must not contain NUL characters"})
        row = await self.store.agents.set_trigger_secret(agent_id, self.secrets.seal(secret))
        if row is None:
            raise NotFound("Agent not found")
        self.service.changed(row)
        log.info("agent %s: trigger secret set", agent_id)
        return {"secret": secret, "url": hook_path(agent_id)}

    async def remove_secret(self, agent_id: str) -> dict[str, Any]:
        """Remove the agent's trigger secret: its webhooks are refused (404) from now on."""
        row = await self.store.agents.set_trigger_secret(agent_id, None)
        if row is None:
            raise NotFound("Agent not found")
        self.service.changed(row)
        return agent_json(row)

    # -- deliveries ------------------------------------------------------------------

    async def receive(
        self, agent_id: str, headers: Mapping[str, str], body: bytes, address: str
    ) -> dict[str, Any]:
        """Verify a delivery and start the agent once for it; ``{"message", "runId"}``."""
        try:
            row, secret = await self._secret_of(agent_id)
            delivery_ids = self._verify(secret, {k.lower(): v for k, v in headers.items()}, body)
        except (NotFound, BadSignature) as refusal:
            retry_after = self.throttle.failed(address)
            if retry_after:
                raise TooManyRequests(
                    f"Too many refused webhooks from {address}; retry in {retry_after} s", retry_after
                ) from None
            log.info("webhook for agent %s refused: %s", agent_id, refusal.message)
            raise
        agent = agent_from_row(row)
        refusal_reason = await self.service.run_refusal(agent)
        if refusal_reason is not None:
            raise Conflict(refusal_reason)
        self.runner.refuse_when_stopping()
        now = self.clock()
        run_id, fresh = await self.store.runs.insert_delivered(
            new_id("run"),
            agent_id,
            now,
            self.runner.owner,
            _as_input(body),
            delivery_ids,
            now - DELIVERY_MEMORY_MS,
        )
        if not fresh:
            log.info("webhook for agent %s: delivery %s already received", agent_id, delivery_ids[0])
            return {"message": "Already received", "runId": run_id}
        await self.runner.enqueue_claimed(agent_id, run_id)
        return {"message": "Agent started", "runId": run_id}

    async def _secret_of(self, agent_id: str) -> tuple[Row, str]:
        row = await self.store.agents.get(agent_id)
        if row is None:
            raise NotFound("Agent not found")
        if not row["trigger_secret"]:
            raise NotFound("This agent has no trigger secret (POST /api/agents/{id}/trigger-secret)")
        try:
            return row, self.secrets.open(row["trigger_secret"])
        except SecretUnreadable:
            log.error("agent %s: its trigger secret cannot be opened with this server's key", agent_id)
            raise BadSignature("The agent's trigger secret cannot be read by this server") from None

    def _verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> list[str]:
        """The delivery's ids once its signature is good; raises BadSignature."""
        github = headers.get(GITHUB_SIGNATURE)
        if github is not None:
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected.encode(), github.strip().lower().encode()):
                raise BadSignature("X-Hub-Signature-256 does not match the body")
            delivery = headers.get(GITHUB_DELIVERY)
            return [f"github:{delivery}", expected] if delivery else [expected]
        if any(name in headers for name in STANDARD_HEADERS):
            try:
                Webhook(secret).verify(body, dict(headers), json_parse=False)
            except Exception as exc:  # the library raises several kinds (bad base64, headers, time)
                raise BadSignature(f"Standard Webhooks signature refused: {_why(exc)}") from None
            return [f"standard:{headers['webhook-id']}"]
        raise BadSignature(
            "Unsigned: send X-Hub-Signature-256 (GitHub) or webhook-id, webhook-timestamp "
            "and webhook-signature (Standard Webhooks)"
        )


def _why(exc: Exception) -> str:
    text = str(exc)
    known = ("Missing required headers", "Message timestamp too old", "Message timestamp too new")
    return text.lower() if text in known else "no matching signature"


def _as_input(body: bytes) -> str:
    """The run's input: a JSON body pretty-printed, other text as it came."""
    text = body.decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return json.dumps(value, indent=2, ensure_ascii=False) if isinstance(value, dict | list) else text
