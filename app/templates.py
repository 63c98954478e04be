"""A prompt's placeholders, and a run's input as text.

A prompt may say ``{{input}}`` (what the run was given: a body's ``input``, a
webhook's payload, the output of the run that chained to it), ``{{now}}`` (the
time the run starts, ISO 8601 in the agent's zone), ``{{lastOutput}}`` (the
output of the agent's previous successful run, cut to :data:`LAST_OUTPUT_BYTES`)
and ``{{agent.name}}``. Spaces inside the braces are allowed (``{{ now }}``).
Only a name between the braces makes a placeholder, so text such as
``{{ .Values }}`` or ``{{#each}}`` stays as it is; a name that is not one of
the four is refused when the prompt is saved. A run given input whose prompt
has no ``{{input}}`` gets it appended under :data:`INPUT_HEADING`.

Rendering is one pass: a placeholder inside the input (or the last output) is
left as text, never expanded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from app.text import cut_text

PLACEHOLDERS = ("input", "now", "lastOutput", "agent.name")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
LAST_OUTPUT_BYTES = 8192
INPUT_HEADING = "## Input"


def unknown_placeholders(prompt: str) -> list[str]:
    """The placeholders of ``prompt`` that are none of :data:`PLACEHOLDERS`, each once, in order."""
    names = (m.group(1) for m in PLACEHOLDER_RE.finditer(prompt))
    return list(dict.fromkeys(name for name in names if name not in PLACEHOLDERS))


def unknown_placeholder_problem(prompt: str) -> str | None:
    """What is wrong with the placeholders of ``prompt``; None if nothing."""
    unknown = unknown_placeholders(prompt)
    if not unknown:
        return None
    known = ", ".join("{{" + name + "}}" for name in PLACEHOLDERS)
    listed = ", ".join("{{" + name + "}}" for name in unknown[:5])
    return f"unknown placeholder{'s' if len(unknown) > 1 else ''} {listed}: the placeholders are {known}"


def uses(prompt: str, name: str) -> bool:
    return any(m.group(1) == name for m in PLACEHOLDER_RE.finditer(prompt))


def input_text(value: Any) -> str | None:
    """A run's input as the prompt gets it: text as is, other JSON indented; None: no input."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def render(prompt: str, values: Mapping[str, str | None]) -> str:
    """``prompt`` with its placeholders replaced by ``values`` (absent or None: empty).

    ``values["input"]``, when the prompt does not place it, follows the prompt
    under :data:`INPUT_HEADING`. ``lastOutput`` is cut to :data:`LAST_OUTPUT_BYTES`.
    """
    given = dict(values)
    if given.get("lastOutput"):
        given["lastOutput"] = cut_text(given["lastOutput"] or "", LAST_OUTPUT_BYTES)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        return given.get(name) or ""

    text = PLACEHOLDER_RE.sub(replace, prompt)
    run_input = given.get("input")
    if run_input and not uses(prompt, "input"):
        text = f"{text}\n\n{INPUT_HEADING}\n\n{run_input}"
    return text
