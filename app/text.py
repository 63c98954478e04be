"""Text helpers shared by every layer."""

from __future__ import annotations

CUT_MARK = "\n[… output cut: {} more bytes]"


def cut_text(text: str, limit: int) -> str:
    """The text itself if its UTF-8 is at most ``limit`` bytes, else its first
    ``limit`` bytes (never half a character) and ``CUT_MARK`` with how many
    bytes were left out."""
    if len(text) <= limit // 4:  # no character takes more than 4 bytes
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    end = limit
    while end > 0 and data[end] & 0xC0 == 0x80:  # a continuation byte: back to the start
        end -= 1
    kept = data[:end].decode("utf-8", "surrogatepass")
    return kept + CUT_MARK.format(len(data) - end)
