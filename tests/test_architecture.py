"""The architecture's guard rails: every module placed in a layer, the contracts complete.

import-linter (run by .ci/run as ``lint-imports``) checks the contracts in pyproject.toml. These
tests check that the contracts keep covering the tree: a new top-level module must be given a
layer, and the "rules are pure" and "nothing imports the CLI" lists must name it, or these fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from importlinter.api import read_configuration

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "stagecfg"

#: Rooms of a readable size; a module past this is split by responsibility.
MAX_MODULE_LINES = 400


def _top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.parent.name for p in PACKAGE.glob("*/__init__.py")
    }
    return names - {"__init__", "__main__"}


def _contracts() -> list[dict[str, Any]]:
    config = read_configuration(str(REPO / "pyproject.toml"))
    contracts: list[dict[str, Any]] = config["contracts_options"]
    return contracts


def _contract(prefix: str) -> dict[str, Any]:
    matches = [c for c in _contracts() if c["name"].startswith(prefix)]
    assert len(matches) == 1, f"one contract named {prefix!r}..."
    return matches[0]


def _layer_members(contract: dict[str, Any]) -> set[str]:
    return {
        name.strip() for layer in contract["layers"] for name in layer.replace(":", "|").split("|")
    }


def test_every_top_level_module_has_a_layer() -> None:
    placed = _layer_members(_contract("Layers: CLI"))
    assert placed == _top_level_modules()


def test_rules_may_import_only_the_model_and_timestamps() -> None:
    forbidden = set(_contract("Stream's rules are pure")["forbidden_modules"])
    internal = {m.removeprefix("stagecfg.") for m in forbidden if m.startswith("stagecfg.")}
    assert internal == _top_level_modules() - {"rules", "model", "timestamps"}
    assert {"click", "httpx", "sqlite3", "starlette"} <= forbidden


def test_nothing_but_the_entry_point_imports_the_cli() -> None:
    sources = set(_contract("Nothing imports the CLI")["source_modules"])
    assert sources == {f"stagecfg.{m}" for m in _top_level_modules() - {"cli"}}


@pytest.mark.parametrize(
    "package",
    [
        "access",
        "cli",
        "drift",
        "emulator",
        "export",
        "github",
        "manifest",
        "plan",
        "rules",
        "sandbox",
        "testing",
    ],
)
def test_every_module_of_a_package_has_a_layer(package: str) -> None:
    contract = next(c for c in _contracts() if c.get("containers") == [f"stagecfg.{package}"])
    modules = {p.stem for p in (PACKAGE / package).glob("*.py")} - {"__init__"}
    assert _layer_members(contract) == modules


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        str(path.relative_to(REPO)): len(path.read_text("utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    too_big = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_big, f"split these by responsibility: {too_big}"
