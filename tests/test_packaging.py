"""Packaging: CI installs what the README says, at the pinned versions, and the metadata holds.

The SVG snapshot tests only pass with the library versions they were drawn
with; those are pinned in ``constraints/dev.txt`` rather than capped in
``pyproject.toml``. These checks keep the README's commands, ``.ci/run``, the
Makefile and the constraints file saying the same thing.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = "constraints/dev.txt"
# Runtime dependencies that may have an upper bound, each for a known break.
KNOWN_BREAKS = {
    # app/agent_session.py subclasses the SDK's private _internal transport.
    "claude-agent-sdk",
    # app/model overrides JSON Schema generator hooks and words messages from error types.
    "pydantic",
}


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def project() -> dict[str, object]:
    table = pyproject()["project"]
    assert isinstance(table, dict)
    return table


def readme_commands() -> tuple[str, str]:
    """The install and the test command of README's "The two commands"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", section, re.S)
    install, test = blocks[0].strip(), blocks[1].strip()
    return install.split(" && ")[0], test


def ci_lines() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def pins() -> dict[str, str]:
    """Package name -> pinned version, from the constraints file."""
    found: dict[str, str] = {}
    for raw in (ROOT / CONSTRAINTS).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{line!r}: pin one exact version (==)"
        found[canonicalize_name(requirement.name)] = specs[0].version
    return found


def test_ci_installs_with_the_constraints_and_runs_the_readme_test_command() -> None:
    install, test = readme_commands()
    assert f"-c {CONSTRAINTS}" in install and "-e '.[dev]'" in install
    lines = ci_lines()
    pip = [line for line in lines if " pip install " in f" {line} "]
    assert len(pip) == 1 and f"-c {CONSTRAINTS}" in pip[0] and "-e '.[dev]'" in pip[0], pip
    assert lines[-1] == test == "python -m pytest"
    assert "set -euo pipefail" in lines  # pytest's exit 5 (no tests collected) fails CI


def test_make_install_uses_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    install = makefile.split("\ninstall:", 1)[1].split("\n\n", 1)[0]
    assert f"pip install -c {CONSTRAINTS} -e '.[dev]'" in install


def test_every_pin_is_a_dependency_of_the_project() -> None:
    table = project()
    runtime = table["dependencies"]
    extras = table["optional-dependencies"]
    assert isinstance(runtime, list) and isinstance(extras, dict)
    names = {canonicalize_name(Requirement(r).name) for r in [*runtime, *extras["dev"]]}
    assert pins(), "the constraints file pins nothing"
    assert set(pins()) <= names, f"pinned but not a dependency: {sorted(set(pins()) - names)}"


def test_installed_versions_are_the_pinned_ones() -> None:
    """Otherwise the snapshot tests fail for a reason that has nothing to do with the code."""
    wrong = {}
    for name, pinned in pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            wrong[name] = f"{installed}, pinned {pinned}"
    assert not wrong, f"reinstall with: pip install -c {CONSTRAINTS} -e '.[dev]' ({wrong})"


def test_runtime_upper_bounds_only_where_a_break_is_known() -> None:
    runtime = project()["dependencies"]
    assert isinstance(runtime, list)
    capped = {
        canonicalize_name(req.name)
        for req in map(Requirement, runtime)
        if any(spec.operator in {"<", "<=", "==", "~=", "==="} for spec in req.specifier)
    }
    assert capped <= KNOWN_BREAKS, f"capped without a known break: {sorted(capped - KNOWN_BREAKS)}"


def test_license_metadata() -> None:
    table = project()
    assert table["license"] == "MIT"  # an SPDX expression (PEP 639), not the deprecated table
    assert table["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    classifiers = table["classifiers"]
    assert isinstance(classifiers, list)
    # setuptools refuses a License classifier beside a license expression.
    assert not [c for c in classifiers if c.startswith("License ::")]
    build = pyproject()["build-system"]
    assert isinstance(build, dict)
    assert "setuptools>=77" in build["requires"]  # the first to read PEP 639 metadata
