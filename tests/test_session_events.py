"""How much of a huge output is kept (app.session_events.cut_text and cut_deep), and
what a run that failed for want of credentials says."""

from __future__ import annotations

from typing import Any

from claude_agent_sdk import AssistantMessage, ResultMessage, SystemMessage, TextBlock

from app.credentials import NO_CREDENTIALS_HINT, REJECTED_CREDENTIALS_HINT
from app.session_events import (
    CUT_MARK,
    OUTPUT_LIMIT_BYTES,
    Redactor,
    auth_failure,
    cut_deep,
    cut_text,
    map_result,
)


def test_text_up_to_the_limit_is_kept_whole() -> None:
    text = "a" * OUTPUT_LIMIT_BYTES
    assert cut_text(text) is text
    assert cut_text("é" * (OUTPUT_LIMIT_BYTES // 2)) == "é" * (OUTPUT_LIMIT_BYTES // 2)


def test_longer_text_keeps_its_first_mib_and_says_how_much_was_cut() -> None:
    text = "x" * (OUTPUT_LIMIT_BYTES + 10)
    assert cut_text(text) == "x" * OUTPUT_LIMIT_BYTES + "\n[… output cut: 10 more bytes]"


def test_the_cut_never_splits_a_character() -> None:
    # One ASCII byte, then 4-byte characters: the limit falls inside one of them.
    text = "a" + "😀" * (OUTPUT_LIMIT_BYTES // 4)
    total = len(text.encode())
    cut = cut_text(text)
    kept = cut[: cut.index("\n[…")]
    kept_bytes = len(kept.encode())
    assert kept_bytes == OUTPUT_LIMIT_BYTES - 3  # the partial emoji is left out whole
    assert text.startswith(kept)
    assert cut.endswith(CUT_MARK.format(total - kept_bytes))


def test_lone_surrogates_do_not_break_the_cut() -> None:
    text = "\ud800" * OUTPUT_LIMIT_BYTES
    assert cut_text(text).startswith("\ud800")


def test_every_string_of_an_event_is_cut_and_nothing_else_changes() -> None:
    big = "y" * (OUTPUT_LIMIT_BYTES + 1)
    event = {"type": "tool_use", "input": {"content": big, "n": 3, "flags": [True, None, big]}}
    cut = cut_text(big)
    assert cut_deep(event) == {
        "type": "tool_use",
        "input": {"content": cut, "n": 3, "flags": [True, None, cut]},
    }


def result(text: str, is_error: bool = True, api_error_status: int | None = None) -> ResultMessage:
    # The shapes the bundled CLI (2.1.x) gives; see test_agent_session for the real runs.
    return ResultMessage(
        subtype="success",
        duration_ms=70,
        duration_api_ms=0,
        is_error=is_error,
        num_turns=1,
        session_id="s",
        result=text,
        api_error_status=api_error_status,
    )


def assistant(error: Any) -> AssistantMessage:
    return AssistantMessage(content=[TextBlock("Not logged in · Please run /login")], model="m", error=error)


def test_a_run_without_credentials_says_how_to_log_in() -> None:
    out = map_result(result("Not logged in · Please run /login"), Redactor()).output
    assert out == f"Not logged in · Please run /login\n{NO_CREDENTIALS_HINT}"


def test_the_cli_s_error_tag_is_enough_whatever_its_words() -> None:
    assert auth_failure(assistant("authentication_failed"))
    assert not auth_failure(assistant(None))
    out = map_result(result("Anmeldung fehlt"), Redactor(), auth_failed=True).output
    assert out.splitlines()[-1] == NO_CREDENTIALS_HINT


def test_a_refused_key_says_to_check_it() -> None:
    refused = result("Invalid API key · Fix external API key", api_error_status=401)
    out = map_result(refused, Redactor()).output
    assert out == f"API error 401: Invalid API key · Fix external API key\n{REJECTED_CREDENTIALS_HINT}"


def test_a_401_retry_counts_as_refused_credentials() -> None:
    assert auth_failure(SystemMessage("api_retry", {"error_status": 401, "error": "authentication_failed"}))
    assert not auth_failure(SystemMessage("api_retry", {"error_status": 500, "error": "server_error"}))


def test_other_errors_and_successes_get_no_hint() -> None:
    assert map_result(result("API Error: 500", api_error_status=500), Redactor()).output.count("\n") == 0
    ok = map_result(result("Not logged in is what the agent wrote", is_error=False), Redactor())
    assert ok.status == "success" and ok.output == "Not logged in is what the agent wrote"
