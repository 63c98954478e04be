"""Which Claude credentials an agent run would use: found without network, never printed.

Every run's CLI gets this process's environment (plus the agent's own), so
what is found here is what the runs find. The bundled Claude Code CLI takes,
in this order of precedence (the first one found is used):

1. a cloud provider (``CLAUDE_CODE_USE_BEDROCK`` / ``_VERTEX`` / ``_FOUNDRY``)
   with that provider's own credentials;
2. ``ANTHROPIC_AUTH_TOKEN`` (sent as a bearer token, usually to a gateway at
   ``ANTHROPIC_BASE_URL``);
3. ``ANTHROPIC_API_KEY``;
4. ``CLAUDE_CODE_OAUTH_TOKEN`` (a long-lived token from ``claude setup-token``,
   i.e. ``cronagents login --token``);
5. a login stored in the Claude config directory (``$CLAUDE_CONFIG_DIR``, else
   ``~/.claude``): a Claude subscription login in ``.credentials.json``, if it
   has the ``user:inference`` scope and has not expired for good (on
   macOS in the Keychain, with the account noted in ``.claude.json``), or an
   API key made by a Console login (``primaryApiKey`` in ``.claude.json``, which
   lives in ``$CLAUDE_CONFIG_DIR`` when that is set, else in the home directory).

Runs load no user settings (SDK isolation mode), so an ``apiKeyHelper`` in
``~/.claude/settings.json`` is not counted. Secrets are never returned: at most
their kind, a non-secret prefix (``sk-ant-api03-``) and their length.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "NO_CREDENTIALS_HINT",
    "REJECTED_CREDENTIALS_HINT",
    "Credential",
    "CredentialReport",
    "claude_config_dir",
    "find_credentials",
    "mask",
    "missing_credentials_message",
]

NO_CREDENTIALS_HINT = (
    "cronagents has no Claude credentials: run `cronagents login`, "
    "or set ANTHROPIC_API_KEY (see `cronagents doctor`)"
)
REJECTED_CREDENTIALS_HINT = (
    "Claude refused the credentials cronagents passed on: check ANTHROPIC_API_KEY "
    "(or CLAUDE_CODE_OAUTH_TOKEN), or run `cronagents login` again (see `cronagents doctor`)"
)

CLOUD_PROVIDERS = (
    ("CLAUDE_CODE_USE_BEDROCK", "Amazon Bedrock"),
    ("CLAUDE_CODE_USE_VERTEX", "Google Vertex AI"),
    ("CLAUDE_CODE_USE_FOUNDRY", "Microsoft Foundry"),
)
ENV_CREDENTIALS = (
    ("ANTHROPIC_AUTH_TOKEN", "auth_token", "a bearer token"),
    ("ANTHROPIC_API_KEY", "api_key", "an API key"),
    ("CLAUDE_CODE_OAUTH_TOKEN", "oauth_token", "a long-lived Claude subscription token"),
)
INFERENCE_SCOPE = "user:inference"  # the CLI ignores a stored login without it
_KNOWN_PREFIX = re.compile(r"sk-ant-[a-z]+\d*-")
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Credential:
    kind: (
        str  # "cloud_provider" | "auth_token" | "api_key" | "oauth_token" | "claude_login" | "console_login"
    )
    source: str  # the variable or file it comes from
    description: str  # what it is, with at most a masked prefix: never the secret

    def line(self) -> str:
        return f"{self.source}: {self.description}"


@dataclass(frozen=True)
class CredentialReport:
    found: tuple[Credential, ...]  # in the CLI's order of precedence
    gateway: str | None  # ANTHROPIC_BASE_URL without user info or query
    config_dir: Path  # the Claude config directory the CLI uses
    notes: tuple[str, ...] = ()  # e.g. a login that expired, a file that cannot be read

    @property
    def in_use(self) -> Credential | None:
        return self.found[0] if self.found else None


def mask(secret: str) -> str:
    """A secret as its kind's public prefix (if any) and its length: ``sk-ant-api03-… (108 chars)``."""
    value = secret.strip()
    known = _KNOWN_PREFIX.match(value)
    return f"{known.group(0) if known else ''}… ({len(value)} chars)"


def claude_config_dir(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path:
    """Where the bundled CLI keeps its login: ``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    env = os.environ if env is None else env
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    return _home(env, home) / ".claude"


def find_credentials(
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    platform: str = sys.platform,
    now: float | None = None,
) -> CredentialReport:
    """Every Claude credential a run would see, the one the CLI uses first. Reads only
    the environment and two small files of the Claude config directory: fast, no network."""
    env = os.environ if env is None else env
    found: list[Credential] = []
    notes: list[str] = []
    for name, label in CLOUD_PROVIDERS:
        if env.get(name, "").strip().lower() not in _FALSE:
            found.append(
                Credential("cloud_provider", name, f"{label}, with credentials of its own (not checked here)")
            )
    for name, kind, label in ENV_CREDENTIALS:
        value = env.get(name, "")
        if value.strip():
            found.append(Credential(kind, name, f"{label}: {mask(value)}"))
    config_dir = claude_config_dir(env, home)
    found.extend(_stored_logins(env, home, config_dir, platform, notes, time.time() if now is None else now))
    return CredentialReport(tuple(found), _gateway(env), config_dir, tuple(notes))


def missing_credentials_message(env: Mapping[str, str] | None = None, home: Path | None = None) -> str | None:
    """One line saying that no credentials were found and what to do; None when some were."""
    report = find_credentials(env, home)
    if report.found:
        return None
    return (
        "No Claude credentials found, so agent runs will fail: run `cronagents login`, "
        "or set ANTHROPIC_API_KEY (see `cronagents doctor`)."
    )


# --------------------------------------------------------------------------


def _home(env: Mapping[str, str], home: Path | None) -> Path:
    if home is not None:
        return home
    value = env.get("HOME", "").strip()
    return Path(value) if value else Path.home()


def _read_json(path: Path, notes: list[str]) -> dict[str, Any] | None:
    try:
        with path.open("rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        notes.append(f"{path} cannot be read ({type(exc).__name__}); a login kept there is not seen")
        return None
    return doc if isinstance(doc, dict) else None


def _stored_logins(
    env: Mapping[str, str],
    home: Path | None,
    config_dir: Path,
    platform: str,
    notes: list[str],
    now: float,
) -> list[Credential]:
    found: list[Credential] = []
    credentials_file = config_dir / ".credentials.json"
    oauth = (_read_json(credentials_file, notes) or {}).get("claudeAiOauth")
    if isinstance(oauth, dict) and str(oauth.get("accessToken") or "").strip():
        plan = oauth.get("subscriptionType")
        expires = oauth.get("expiresAt")
        scopes = oauth.get("scopes")
        if not isinstance(scopes, list) or INFERENCE_SCOPE not in scopes:
            notes.append(
                f"the login in {credentials_file} does not allow running Claude (no {INFERENCE_SCOPE} "
                "scope): run `cronagents login` again"
            )
        elif isinstance(expires, int | float) and expires / 1000 < now and not oauth.get("refreshToken"):
            notes.append(f"the login in {credentials_file} has expired: run `cronagents login` again")
        else:  # an expired access token with a refresh token is renewed by the CLI
            found.append(
                Credential(
                    "claude_login",
                    str(credentials_file),
                    "a Claude subscription login" + (f" ({plan})" if isinstance(plan, str) and plan else ""),
                )
            )
    global_config = (
        config_dir / ".claude.json"
        if env.get("CLAUDE_CONFIG_DIR", "").strip()
        else _home(env, home) / ".claude.json"
    )
    doc = _read_json(global_config, notes) or {}
    if not found and platform == "darwin" and isinstance(doc.get("oauthAccount"), dict):
        found.append(
            Credential(
                "claude_login",
                "macOS Keychain",
                f"a Claude subscription login (account noted in {global_config})",
            )
        )
    key = doc.get("primaryApiKey")
    if isinstance(key, str) and key.strip():
        found.append(
            Credential("console_login", str(global_config), f"an API key from a Console login: {mask(key)}")
        )
    return found


def _gateway(env: Mapping[str, str]) -> str | None:
    url = env.get("ANTHROPIC_BASE_URL", "").strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(not a valid URL)"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "(not a valid URL)"
