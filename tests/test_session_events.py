"""How much of a huge output is kept: app.session_events.cut_text and cut_deep."""

from __future__ import annotations

from app.session_events import CUT_MARK, OUTPUT_LIMIT_BYTES, cut_deep, cut_text


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
