"""manifest.environments: which files make an environment, choosing environments, and
validating every environment at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagecfg.errors import UsageError
from stagecfg.manifest import Selection, choose
from stagecfg.validation import load_desired, validate

BASE = """\
version: 1
variables:
  max_viewers: {type: integer, default: 100}
  max_seconds: {type: integer, default: 3600}
call_types:
  shows:
    settings:
      limits: {max_participants: "${max_viewers}", max_duration_seconds: "${max_seconds}"}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def env_file(name: str, body: str = "") -> str:
    return f"version: 1\nenvironment: {name}\n{body}"


def test_choose_every_environment_or_refuse_without_env() -> None:
    assert choose([], None, every=True) == ([None], None)
    assert choose([], None, every=False) == ([None], None)
    assert choose(["production", "staging"], None, every=True) == (["production", "staging"], None)
    assert choose(["production", "staging"], "staging", every=False) == (["staging"], None)
    _, refusal = choose(["production", "staging"], None, every=False)
    assert refusal == (
        "these manifests define environments production, staging; choose one with --env NAME "
        "(or STAGECFG_ENV)"
    )


@pytest.mark.parametrize(
    ("names", "selected", "message"),
    [
        (
            ["production", "staging"],
            "prod",
            "--env prod: no file declares environment 'prod'; the manifests define production, "
            "staging (did you mean 'production'?)",
        ),
        (
            ["production", "staging"],
            "stagin",
            "--env stagin: no file declares environment 'stagin'; the manifests define "
            "production, staging (did you mean 'staging'?)",
        ),
        (
            ["production"],
            "qa",
            "--env qa: no file declares environment 'qa'; the manifests define production",
        ),
        (
            [],
            "production",
            "--env production: these manifests define no environments (no file has a top-level "
            "environment:); drop --env (and STAGECFG_ENV)",
        ),
    ],
)
def test_a_wrong_env_is_refused_naming_the_defined_ones(
    names: list[str], selected: str, message: str
) -> None:
    assert choose(names, selected, every=True) == ([], message)


def test_an_environment_loads_the_base_and_its_own_files_only(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "base.yaml": BASE,
            "envs/prod.yaml": env_file("production", "values: {max_viewers: 5000}\n"),
            "envs/prod-users.yaml": env_file("production", "users:\n  ops: {role: admin}\n"),
            "envs/staging.yaml": env_file("staging", "users:\n  tester: {role: user}\n"),
        },
    )
    production, _ = load_desired([str(root)], env={}, selection=Selection("production"))
    staging, _ = load_desired([str(root)], env={}, selection=Selection("staging"))
    assert set(production.users) == {"ops"} and set(staging.users) == {"tester"}
    assert production.environment == "production"
    assert [Path(s).name for s in production.sources] == [
        "base.yaml",
        "prod-users.yaml",
        "prod.yaml",
    ]
    assert production.digest != staging.digest  # only the files each one loads
    with pytest.raises(UsageError, match="choose one with --env NAME"):
        load_desired([str(root)], env={})


def test_validate_checks_every_environment_and_says_which_one_a_problem_is_in(
    tmp_path: Path,
) -> None:
    root = write(
        tmp_path,
        {
            "base.yaml": BASE + "    grants: {host: [start-record-call]}\n",
            "prod.yaml": env_file("production", "values: {max_seconds: -1}\n"),
            "qa.yaml": env_file("qa", "values: {max_seconds: -1}\n"),
            "staging.yaml": env_file("staging"),
        },
    )
    result = validate([str(root)], env={})
    assert [c.environment for c in result.compositions] == ["production", "qa", "staging"]
    rendered = [p.render() for p in result.problems]
    # Found in every environment: said once, with no environment named.
    assert sum("unknown permission id 'start-record-call'" in r for r in rendered) == 1
    (grant,) = [r for r in rendered if "start-record-call" in r]
    assert "(environment" not in grant
    # Found in some: said once, naming them.
    (low,) = [r for r in rendered if "max_duration_seconds" in r]
    assert "(environments production, qa)" in low and low.startswith(str(root / "base.yaml"))
    assert not result.valid()


def test_validate_with_env_checks_that_environment_only(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "base.yaml": BASE,
            "prod.yaml": env_file("production", "values: {max_seconds: -1}\n"),
            "staging.yaml": env_file("staging"),
        },
    )
    assert validate([str(root)], env={}, selection=Selection("staging")).problems == []
    (problem,) = validate([str(root)], env={}, selection=Selection("production")).problems
    assert "(environment" not in problem.message
    summary = validate([str(root)], env={}, selection=Selection("staging")).summary()
    assert summary == "3 files valid: staging: 1 call type, 0 calls, 0 users"


@pytest.mark.parametrize(
    "name", ["5", "[a, b]", "'has space'", "null", "{a: 1}", "-lead", "x" * 65]
)
def test_an_environment_name_that_is_not_a_name_is_an_error_and_never_loaded(
    tmp_path: Path, name: str
) -> None:
    root = write(
        tmp_path,
        {
            "base.yaml": BASE,
            "bad.yaml": f"version: 1\nenvironment: {name}\n"
            "overlay:\n  call_types:\n    shows: {settings: {limits: {max_participants: 1}}}\n",
        },
    )
    result = validate([str(root)], env={})
    rendered = [p.render() for p in result.problems]
    assert len(rendered) == 1 and rendered[0].startswith(f"{root / 'bad.yaml'}:2:14: ")
    # A file whose environment is not a name is in no environment: its overlay is never applied.
    limits = result.compositions[0].merged.data["call_types"]["shows"]["settings"]["limits"]
    assert limits["max_participants"] == 100
