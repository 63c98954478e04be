"""app.credentials: which Claude credentials a run would use, found without network, never shown."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.credentials import (
    NO_CREDENTIALS_HINT,
    claude_config_dir,
    find_credentials,
    mask,
    missing_credentials_message,
)

API_KEY = "sk-ant-api03-" + "S3CRET" * 15
OAUTH_TOKEN = "sk-ant-oat01-" + "T0KEN" * 15


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def env_of(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), **extra}


def write_json(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def login_file(expires_in: float = 3600, refresh: bool = True) -> dict[str, object]:
    oauth: dict[str, object] = {
        "accessToken": OAUTH_TOKEN,
        "expiresAt": int((time.time() + expires_in) * 1000),
        "subscriptionType": "max",
        "scopes": ["user:inference", "user:profile"],
    }
    if refresh:
        oauth["refreshToken"] = "sk-ant-ort01-" + "R" * 40
    return {"claudeAiOauth": oauth}


def test_nothing_found_gives_the_one_line_with_the_fix(home: Path) -> None:
    report = find_credentials(env_of(home))
    assert report.found == () and report.in_use is None and report.gateway is None
    assert report.config_dir == home / ".claude"
    message = missing_credentials_message(env_of(home))
    assert message is not None and "\n" not in message
    assert "cronagents login" in message and "ANTHROPIC_API_KEY" in message and "cronagents doctor" in message
    assert "cronagents login" in NO_CREDENTIALS_HINT


def test_empty_values_count_as_unset(home: Path) -> None:
    env = env_of(home, ANTHROPIC_API_KEY="", CLAUDE_CODE_OAUTH_TOKEN="  ", CLAUDE_CODE_USE_BEDROCK="0")
    assert find_credentials(env).found == ()


def test_environment_credentials_in_the_cli_s_order_and_masked(home: Path) -> None:
    env = env_of(home, CLAUDE_CODE_OAUTH_TOKEN=OAUTH_TOKEN, ANTHROPIC_API_KEY=API_KEY)
    write_json(home / ".claude" / ".credentials.json", login_file())
    report = find_credentials(env)
    assert [c.kind for c in report.found] == ["api_key", "oauth_token", "claude_login"]
    assert report.in_use is not None and report.in_use.source == "ANTHROPIC_API_KEY"
    assert report.in_use.description == f"an API key: sk-ant-api03-… ({len(API_KEY)} chars)"
    shown = repr(report) + "".join(c.line() for c in report.found)
    assert "S3CRET" not in shown and "T0KEN" not in shown
    assert missing_credentials_message(env) is None


def test_mask_shows_only_a_public_prefix_and_the_length() -> None:
    assert mask(API_KEY) == f"sk-ant-api03-… ({len(API_KEY)} chars)"
    assert mask("  my-gateway-token-123  ") == "… (20 chars)"


def test_a_cloud_provider_comes_first(home: Path) -> None:
    report = find_credentials(env_of(home, CLAUDE_CODE_USE_BEDROCK="1", ANTHROPIC_API_KEY=API_KEY))
    assert report.in_use is not None and report.in_use.kind == "cloud_provider"
    assert "Bedrock" in report.in_use.description


def test_a_gateway_is_shown_without_its_user_info_or_query(home: Path) -> None:
    env = env_of(
        home,
        ANTHROPIC_BASE_URL="https://user:pa55word@gw.example:8443/anthropic?key=abc",
        ANTHROPIC_AUTH_TOKEN="gateway-token-xyz",
    )
    report = find_credentials(env)
    assert report.gateway == "https://gw.example:8443/anthropic"
    assert report.in_use is not None and report.in_use.kind == "auth_token"
    assert "pa55word" not in repr(report) and "gateway-token-xyz" not in repr(report)


def test_a_gateway_alone_is_no_credential(home: Path) -> None:
    """The CLI still says "Not logged in" with only ANTHROPIC_BASE_URL set."""
    env = env_of(home, ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    assert find_credentials(env).found == () and missing_credentials_message(env) is not None


def test_a_subscription_login_in_the_claude_config_dir(home: Path, tmp_path: Path) -> None:
    write_json(home / ".claude" / ".credentials.json", login_file())
    report = find_credentials(env_of(home))
    assert report.in_use is not None and report.in_use.kind == "claude_login"
    assert report.in_use.description == "a Claude subscription login (max)"
    assert "T0KEN" not in repr(report)
    elsewhere = tmp_path / "claude-elsewhere"
    write_json(elsewhere / ".credentials.json", login_file())
    env = env_of(home, CLAUDE_CONFIG_DIR=str(elsewhere))
    assert claude_config_dir(env) == elsewhere
    assert [c.source for c in find_credentials(env).found] == [str(elsewhere / ".credentials.json")]


def test_an_expired_login_counts_only_while_it_can_be_renewed(home: Path) -> None:
    write_json(home / ".claude" / ".credentials.json", login_file(expires_in=-60, refresh=True))
    assert [c.kind for c in find_credentials(env_of(home)).found] == ["claude_login"]
    write_json(home / ".claude" / ".credentials.json", login_file(expires_in=-60, refresh=False))
    report = find_credentials(env_of(home))
    assert report.found == () and "expired" in report.notes[0]


def test_a_login_without_the_inference_scope_is_not_counted(home: Path) -> None:
    """The CLI says "not logged in" then, and so does cronagents."""
    doc = login_file()
    doc["claudeAiOauth"]["scopes"] = ["user:profile"]  # type: ignore[index]
    write_json(home / ".claude" / ".credentials.json", doc)
    report = find_credentials(env_of(home))
    assert report.found == () and "user:inference" in report.notes[0]


def test_a_console_login_key_in_claude_json(home: Path, tmp_path: Path) -> None:
    write_json(home / ".claude.json", {"primaryApiKey": API_KEY})
    report = find_credentials(env_of(home))
    assert report.in_use is not None and report.in_use.kind == "console_login"
    assert report.in_use.source == str(home / ".claude.json") and "S3CRET" not in repr(report)
    # With CLAUDE_CONFIG_DIR, the CLI keeps .claude.json there instead.
    config = tmp_path / "cfg"
    config.mkdir()
    assert find_credentials(env_of(home, CLAUDE_CONFIG_DIR=str(config))).found == ()


def test_a_keychain_login_on_macos_is_seen_by_its_account(home: Path) -> None:
    write_json(home / ".claude.json", {"oauthAccount": {"emailAddress": "a@example.com"}})
    assert find_credentials(env_of(home), platform="linux").found == ()
    report = find_credentials(env_of(home), platform="darwin")
    assert report.in_use is not None and report.in_use.source == "macOS Keychain"


def test_an_unreadable_file_is_a_note_not_an_error(home: Path) -> None:
    path = home / ".claude" / ".credentials.json"
    path.parent.mkdir()
    path.write_text("{not json")
    report = find_credentials(env_of(home))
    assert report.found == () and str(path) in report.notes[0]
