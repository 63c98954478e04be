"""The editor, validation and the OpenAPI document expose the same fields with the same bounds.

Each is built from the typed model (app.model); this test holds them to it
field by field: the editor has one control per field, in order, with the
model's choices and its bounds in the tooltip; the request schemas state the
model's bounds, choices and defaults; and validation is probed at every
bound: the value just outside is refused (naming that field only), the bound
itself accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, Select, Switch, TextArea

from app.errors import ValidationError
from app.model import AGENT_FIELDS, NO_DEFAULT, Agent, FieldSpec, allowed_permission_modes
from app.model.rules import is_read_only
from app.openapi import openapi_document
from app.validation import parse_agent_update
from widgets.agent_form import FIELDS as FORM_FIELDS
from widgets.agent_form import AgentForm, help_text
from widgets.choice_list import ChoiceList
from widgets.secret_env import SecretEnv

KEYS = [f.key for f in AGENT_FIELDS]
# The parts of each group of settings (notify, retry): (group, part).
PARTS = [(f, p) for f in AGENT_FIELDS for p in f.parts]
PART_IDS = [f"{f.key}.{p.key}" for f, p in PARTS]
# A valid text of a given length, where "x" * n is not one.
TEXT_OF_LENGTH: dict[str, Callable[[int], str]] = {
    "schedule": lambda n: "@daily".ljust(n)[:n],  # spaces collapse: still @daily
    "cwd": lambda n: "/" * n,  # "///" is the root directory
}
# A valid value of one entry of a mapping field, where a text is not one.
MAPPING_VALUE: dict[str, Any] = {"mcpServers": {"command": "npx"}}
# Bounds no valid value can sit on, and why.
UNREACHABLE = {
    ("schedule", "min_length"): "no cron expression is one character long",
    ("cwd", "max_length"): "no existing directory has a 4096-character path (PATH_MAX counts the NUL)",
}


def request_properties(method: str) -> dict[str, Any]:
    doc = openapi_document()
    path = "/api/agents" if method == "post" else "/api/agents/{id}"
    schema = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    props = dict(schema["properties"])
    for key, prop in props.items():
        if "$ref" in prop:
            props[key] = doc["components"]["schemas"][prop["$ref"].rsplit("/", 1)[1]]
    return props


def refusal(key: str, value: Any) -> str | None:
    """What validation says of ``value`` for ``key`` (None: accepted)."""
    try:
        parse_agent_update({key: value})
    except ValidationError as exc:
        assert exc.data is not None and list(exc.data) == [key], exc.data
        return exc.data[key]
    return None


def test_every_client_settable_field_of_the_model_is_everywhere_in_the_same_order():
    model_keys = [info.alias for info in Agent.model_fields.values() if not is_read_only(info)]
    assert KEYS == model_keys
    # The editor shows the one time (runAt) right under the schedule it replaces.
    under_schedule = [k for k in KEYS if k != "runAt"]
    under_schedule.insert(under_schedule.index("schedule") + 1, "runAt")
    assert [f.key for f in FORM_FIELDS] == under_schedule
    assert list(request_properties("post")) == KEYS
    assert list(request_properties("patch")) == KEYS
    assert "loadProjectSettings" in KEYS
    for key in KEYS:
        assert refusal(key, object()) != "unknown field", key
    assert refusal("colour", "blue") == "unknown field"


@pytest.mark.parametrize("spec", AGENT_FIELDS, ids=KEYS)
def test_the_request_schema_states_the_model_s_bounds_choices_and_default(spec: FieldSpec):
    check_schema(spec, request_properties("post")[spec.key])
    assert "default" not in request_properties("patch")[spec.key]


@pytest.mark.parametrize(("group", "spec"), PARTS, ids=PART_IDS)
def test_the_request_schema_states_each_part_of_a_group(group: FieldSpec, spec: FieldSpec):
    check_schema(spec, request_properties("post")[group.key]["properties"][spec.key])
    assert "default" not in request_properties("patch")[group.key]


def check_schema(spec: FieldSpec, prop: dict[str, Any]) -> None:
    bounds = spec.rules.bounds
    words = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
    stated = {name: prop[keyword] for name, keyword in words.items() if keyword in prop}
    length = {"list": "Items", "mapping": "Properties"}.get(spec.kind, "Length")
    stated.update(
        {
            name: prop[f"{name[:3]}{length}"]
            for name in ("min_length", "max_length")
            if f"{name[:3]}{length}" in prop
        }
    )
    assert stated == dict(bounds)
    if spec.rules.item is not None and spec.rules.item.kind == "choice":
        assert prop["items"]["enum"] == list(spec.rules.item.choices)
    elif spec.rules.item is not None and spec.kind == "mapping" and spec.rules.item.kind == "object":
        kinds = [set(branch["properties"]) for branch in prop["additionalProperties"]["oneOf"]]
        assert set().union(*kinds) == {part.key for part in spec.rules.item.parts}
    elif spec.rules.item is not None and spec.kind == "mapping":
        assert prop["additionalProperties"]["maxLength"] == spec.rules.item.bounds["max_length"]
    elif spec.rules.item is not None:
        assert prop["items"]["maxLength"] == spec.rules.item.bounds["max_length"]
    if spec.kind == "choice":
        allowed = spec.rules.allowed.choices() if spec.rules.allowed else spec.rules.choices
        assert prop["enum"] == list(allowed)
        assert set(allowed) <= set(spec.rules.choices)
    assert ("null" in prop["type"]) == spec.nullable
    if spec.default in (NO_DEFAULT, None):
        assert "default" not in prop
    else:
        assert prop["default"] == spec.default


def probes(spec: FieldSpec) -> list[tuple[str, Any, bool]]:
    """(what, value, accepted?) at each bound of the field."""
    b = spec.rules.bounds
    out: list[tuple[str, Any, bool]] = []
    if spec.kind in ("integer", "number"):
        step = 1 if spec.kind == "integer" else 0.01
        if "ge" in b:
            out += [("min-1", b["ge"] - step, False), ("min", b["ge"], True)]
        if "gt" in b:
            out += [("exclusive min", b["gt"], False), ("just above it", b["gt"] + step, True)]
        if "le" in b:
            out += [("max", b["le"], True), ("max+1", b["le"] + step, False)]
    elif spec.kind == "text":
        text = TEXT_OF_LENGTH.get(spec.key, lambda n: "x" * n)
        if "min_length" in b:
            out += [("min-1", text(b["min_length"] - 1), False), ("min", text(b["min_length"]), True)]
        if "max_length" in b:
            out += [("max", text(b["max_length"]), True), ("max+1", text(b["max_length"] + 1), False)]
    elif spec.kind == "list":
        assert spec.rules.item is not None
        if spec.rules.item.kind == "choice":
            out += [("each choice", list(spec.rules.item.choices), True), ("not a choice", ["never"], False)]
            return out
        # distinct items: a list field keeps each item once
        many = [f"R{i}" for i in range(b.get("max_length", 0) + 1)]
        if "max_length" in b:
            out += [
                ("max items", many[:-1], True),
                ("max+1 items", many, False),
            ]
        item = spec.rules.item.bounds["max_length"]
        out += [("longest item", ["R" * item], True), ("item too long", ["R" * (item + 1)], False)]
    elif spec.kind == "mapping":
        assert spec.rules.item is not None
        value = MAPPING_VALUE.get(spec.key, "v")
        names = {f"NAME_{i}": value for i in range(b["max_length"] + 1)}
        most = dict(list(names.items())[:-1])
        out += [("max names", most, True), ("max+1 names", names, False)]
        if spec.rules.item.kind != "text":
            return out
        item = spec.rules.item.bounds
        out += [("longest value", {"N": "v" * item["max_length"]}, True)]
        out += [("value too long", {"N": "v" * (item["max_length"] + 1)}, False)]
        out += [("empty value", {"N": ""}, item["min_length"] == 0)]
    elif spec.kind == "choice":
        allowed = spec.rules.allowed.choices() if spec.rules.allowed else spec.rules.choices
        out += [(f"choice {c}", c, c in allowed) for c in spec.rules.choices]
        out += [("not a choice", "sometimes", False)]
    return out


@pytest.mark.parametrize("spec", AGENT_FIELDS, ids=KEYS)
def test_validation_refuses_just_outside_each_bound_and_accepts_the_bound(spec: FieldSpec):
    for what, value, accepted in probes(spec):
        bound = {"min": "min_length", "min-1": "min_length", "max": "max_length", "max+1": "max_length"}
        if spec.kind == "text" and (spec.key, bound.get(what)) in UNREACHABLE and accepted:
            continue
        problem = refusal(spec.key, value)
        if accepted:
            assert problem is None, (spec.key, what, problem)
        else:
            assert problem, (spec.key, what)


@pytest.mark.parametrize(("group", "spec"), PARTS, ids=PART_IDS)
def test_validation_of_each_part_of_a_group_names_the_group_and_the_part(group: FieldSpec, spec: FieldSpec):
    for what, value, accepted in probes(spec):
        problem = refusal(group.key, {spec.key: value})
        if accepted:
            assert problem is None, (group.key, spec.key, what, problem)
        else:
            assert problem and problem.startswith(f"{spec.key}: "), (group.key, spec.key, what, problem)
    assert refusal(group.key, {"colour": 1}) == "colour: unknown field"


def test_only_the_unreachable_bounds_are_skipped():
    for key, bound in UNREACHABLE:
        spec = next(f for f in AGENT_FIELDS if f.key == key)
        assert bound in spec.rules.bounds, (key, bound)


def test_bypass_permissions_is_offered_by_the_editor_and_refused_only_as_root():
    spec = next(f for f in AGENT_FIELDS if f.key == "permissionMode")
    assert "bypassPermissions" in spec.rules.choices
    assert (refusal("permissionMode", "bypassPermissions") is None) == (
        "bypassPermissions" in allowed_permission_modes()
    )


class FormApp(App[None]):
    def compose(self) -> ComposeResult:
        yield AgentForm(lambda: None, "UTC")  # type: ignore[arg-type, return-value]


async def test_the_editor_has_a_control_per_field_with_its_choices_and_bounds_in_its_help():
    kinds = {"boolean": Switch, "choice": Select, "integer": Input, "number": Input, "list": Input}
    kinds["mapping"] = TextArea  # a JSON object (env, mcpServers)
    app = FormApp()
    async with app.run_test(size=(120, 60)):
        form = app.query_one(AgentForm)
        controls = [(spec, spec.key) for spec in AGENT_FIELDS if spec.kind != "object"]
        controls += [(part, f"{group.key}-{part.key}") for group, part in PARTS]
        assert {group.key for group, _ in PARTS} == {"notify", "retry"}
        for spec, wid in controls:
            control = form.query_one(f"#input-{wid}")
            expected = TextArea if spec.multiline else kinds.get(spec.kind, Input)
            item = spec.rules.item
            if wid in AgentForm.CHANNEL_PICKERS or (item is not None and item.kind == "choice"):
                expected = ChoiceList  # picked from the channels by name, or from the item's choices
            if wid in AgentForm.AGENT_PICKERS:
                expected = ChoiceList  # chain targets, picked from the other agents by name
            if wid == "env":
                expected = SecretEnv  # write-only: masked inputs, values never shown
            assert isinstance(control, expected), spec.key
            if isinstance(control, Select):
                options = [value for _, value in control._options]
                assert options == list(spec.rules.choices)
            if isinstance(control, ChoiceList) and item is not None and item.kind == "choice":
                assert [str(o.value) for o in control.options] == list(item.choices)
            assert control.tooltip == help_text(spec)
            assert spec.label and spec.help
            for value in spec.rules.bounds.values():
                assert str(value) in help_text(spec), (spec.key, value)
