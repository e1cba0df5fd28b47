"""manifest.typed_variables and the typed side of variables: declarations, the five sources of a
value in order, types kept by whole references, and every mistake located."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stagecfg.errors import Location
from stagecfg.manifest import MAX_FILE_BYTES, Selection, VariableInput, parse_var
from stagecfg.manifest.typed_variables import Declaration, parse_text
from stagecfg.manifest.variables import Value, expand
from stagecfg.redact import secret_variables
from stagecfg.validation import load_desired, validate

DECLARED = """\
version: 1
variables:
  max_viewers: {type: integer, default: 100}
  ratio: {type: number, default: 0.5}
  recorded: {type: boolean, default: false}
  storage: {type: string, default: staging-recordings}
call_types:
  shows:
    settings:
      limits: {max_participants: "${max_viewers}"}
      backstage:
        enabled: ${recorded}
    external_storage: ${storage}
users:
  alice:
    name: "max ${max_viewers}, ratio ${ratio}, recorded ${recorded}"
    custom: {ratio: "${ratio}", count: "${max_viewers}"}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def state(root: Path, env: dict[str, str] | None = None, **selection: Any) -> Any:
    desired, warnings = load_desired([str(root)], env=env or {}, selection=Selection(**selection))
    assert warnings == []
    return desired


def rendered(root: Path, env: dict[str, str] | None = None, **selection: Any) -> list[str]:
    result = validate([str(root)], env=env or {}, selection=Selection(**selection))
    return [p.render() for p in result.problems]


def test_a_whole_reference_keeps_the_type_and_text_gets_the_value_written(tmp_path: Path) -> None:
    desired = state(write(tmp_path, {"m.yaml": DECLARED}))
    shows = desired.call_types["shows"]
    assert shows.settings == {"limits": {"max_participants": 100}, "backstage": {"enabled": False}}
    assert shows.external_storage == "staging-recordings"
    alice = desired.users["alice"]
    assert alice.name == "max 100, ratio 0.5, recorded false"
    assert alice.custom == {"ratio": 0.5, "count": 100}
    assert type(alice.custom["count"]) is int


def test_an_undeclared_variable_is_text_from_the_environment_as_before(tmp_path: Path) -> None:
    text = DECLARED + "  bob: {name: '${WHO}', language: '${LANG_CODE:-de}'}\n"
    desired = state(write(tmp_path, {"m.yaml": text}), env={"WHO": "5"})
    assert desired.users["bob"].name == "5"  # text, as an environment variable always is
    assert desired.users["bob"].language == "de"


def test_each_source_overrides_the_one_before(tmp_path: Path) -> None:
    files = {
        "m.yaml": DECLARED,
        "env/prod.yaml": "version: 1\nenvironment: production\nvalues: {max_viewers: 3000}\n",
        "one.yaml": "max_viewers: 4000\n",
        "two.json": '{"max_viewers": 4500}',
    }
    # The var files live outside the manifest directory.
    root = write(tmp_path / "m", {k: v for k, v in files.items() if k.startswith(("m.", "env"))})
    write(tmp_path, {k: v for k, v in files.items() if not k.startswith(("m.", "env"))})
    one, two = str(tmp_path / "one.yaml"), str(tmp_path / "two.json")

    def viewers(env: dict[str, str] | None = None, **selection: Any) -> Any:
        selection.setdefault("environment", "production")
        limits = state(root, env, **selection).call_types["shows"].settings["limits"]
        return limits["max_participants"]

    environ = {"STAGECFG_VAR_max_viewers": "2000"}
    write(tmp_path / "m", {"env/prod.yaml": "version: 1\nenvironment: production\n"})
    assert viewers() == 100  # the default
    assert viewers(environ) == 2000  # STAGECFG_VAR_NAME, read as an integer
    write(tmp_path / "m", {"env/prod.yaml": files["env/prod.yaml"]})
    assert viewers(environ) == 3000  # the environment's values:
    assert viewers(environ, var_files=(one,)) == 4000  # --var-file
    assert viewers(environ, var_files=(one, two)) == 4500  # the later --var-file
    assert viewers(environ, var_files=(two, one)) == 4000
    given = (VariableInput("max_viewers", "5000"), VariableInput("max_viewers", "6000"))
    assert viewers(environ, var_files=(one, two), variables=given[:1]) == 5000  # --var
    assert viewers(environ, var_files=(one, two), variables=given) == 6000  # the last --var


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("integer", "5000", 5000),
        ("integer", " -3 ", -3),
        ("number", "2.5", 2.5),
        ("number", "7", 7),
        ("boolean", "true", True),
        ("boolean", "false", False),
        ("string", " as is ", " as is "),
    ],
)
def test_text_is_read_by_the_declared_type(kind: str, text: str, value: Any) -> None:
    parsed, error = parse_text(Declaration("v", kind, Location("f")), text)
    assert (parsed, error) == (value, None)
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("integer", "5e3"),
        ("integer", "lots"),
        ("integer", "1" * 40),
        ("number", "nan"),
        ("number", "inf"),
        ("boolean", "yes"),
        ("boolean", "True"),
    ],
)
def test_text_of_another_type_is_refused(kind: str, text: str) -> None:
    parsed, error = parse_text(Declaration("v", kind, Location("f")), text)
    assert parsed is None and error is not None
    assert error[0] == f"variable 'v' is {'an' if kind == 'integer' else 'a'} {kind}; {text!r} " + (
        "is not one"
    )


def test_type_errors_are_located(tmp_path: Path) -> None:
    root = write(
        tmp_path / "m",
        {
            "m.yaml": DECLARED,
            "prod.yaml": "version: 1\nenvironment: production\n"
            'values:\n  max_viewers: "5000"\n  recorded: 1\n',
        },
    )
    var_file = write(tmp_path, {"vars.yaml": "storage: 5\n"}) / "vars.yaml"
    found = rendered(
        root,
        env={"STAGECFG_VAR_ratio": "half"},
        environment="production",
        var_files=(str(var_file),),
        variables=(VariableInput("max_viewers", "many"),),
    )
    prod = root / "prod.yaml"
    assert found == [
        "--var: $.variables.max_viewers: variable 'max_viewers' is an integer; 'many' is not one "
        "(write a whole number such as 5000)",
        f"{prod}:4:16: $.values.max_viewers: variable 'max_viewers' is an integer; found a "
        "string '5000' (write 5000 without quotes)",
        f"{prod}:5:13: $.values.recorded: variable 'recorded' is a boolean; found an integer 1 "
        "(write true or false)",
        f"{var_file}:1:10: $.storage: variable 'storage' is a string; found an integer 5 "
        "(quote it to make it text)",
        "environment variable STAGECFG_VAR_ratio: $.variables.ratio: variable 'ratio' is a "
        "number; 'half' is not one (write a number such as 2.5)",
    ]


def test_unknown_variables_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    root = write(
        tmp_path / "m",
        {
            "m.yaml": DECLARED,
            "prod.yaml": "version: 1\nenvironment: production\nvalues: {max_viewer: 1}\n",
        },
    )
    var_file = write(tmp_path, {"v.yaml": "recordd: true\n"}) / "v.yaml"
    found = rendered(
        root,
        environment="production",
        var_files=(str(var_file),),
        variables=(VariableInput("storag", "x"), VariableInput("unheard_of", "x")),
    )
    assert found == [
        "--var: $.variables.storag: no variable 'storag' is declared (did you mean 'storage'?)",
        "--var: $.variables.unheard_of: no variable 'unheard_of' is declared (declare it under "
        "variables: in a base file (one without environment:))",
        f"{root / 'prod.yaml'}:3:10: $.values.max_viewer: values: sets 'max_viewer', which no "
        "variable declares (did you mean 'max_viewers'?)",
        f"{var_file}:1:1: $.recordd: --var-file sets 'recordd', which no variable declares "
        "(did you mean 'recorded'?)",
    ]


def test_a_variable_without_default_or_value_is_an_error_at_its_declaration(
    tmp_path: Path,
) -> None:
    text = "version: 1\nvariables:\n  team: {type: string}\nusers:\n  a: {name: '${team}'}\n"
    root = write(tmp_path, {"m.yaml": text})
    assert rendered(root) == [
        f"{root / 'm.yaml'}:3:3: $.variables.team: variable 'team' has no value (give it a "
        "default, or set it: values: in an environment file, --var-file, --var team=VALUE or "
        "STAGECFG_VAR_team)"
    ]  # and nothing about the reference it left unfilled
    assert state(root, variables=(VariableInput("team", "blue"),)).users["a"].name == "blue"


def test_declaration_mistakes_are_located(tmp_path: Path) -> None:
    files = {
        "a.yaml": "version: 1\nvariables:\n  count: {type: integer, default: '5'}\n"
        "  m: {type: float}\n  s: {type: string, default: '${count}', secret: false}\n",
        "b.yaml": "version: 1\nvariables:\n  count: {type: integer}\n"
        "users:\n  u: {name: 'x${count:-3}'}\n",
    }
    root = write(tmp_path, files)
    a, b = root / "a.yaml", root / "b.yaml"
    found = "\n".join(rendered(root))
    assert (
        f"{a}:3:35: $.variables.count.default: variable 'count' is an integer; found a string '5'"
        in (found)
    )
    assert "$.variables.m.type: 'float' is not one of: string, integer, number, boolean" in found
    assert (
        f"{b}:3:3: $.variables.count: variable 'count' is declared twice: here and at {a}:3:3"
        in found
    )
    assert "count is a declared variable, so it takes no :-default here" in found
    # A default is text taken as written: `${n}` in it is not a reference.
    assert "$.variables.s" not in found


def test_variables_and_values_belong_in_base_and_environment_files(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "base.yaml": "version: 1\nvalues: {x: 1}\n",
            "prod.yaml": "version: 1\nenvironment: production\nvariables: {x: {type: integer}}\n",
        },
    )
    found = rendered(root)
    assert (
        f"{root / 'base.yaml'}:2:1: $.values: values: sets variables for one environment"
        in (found[0])
    )
    assert (
        f"{root / 'prod.yaml'}:3:1: $.variables: variables are declared in base files" in (found[1])
    )


# --- secrets -------------------------------------------------------------------------------------

SECRET = """\
version: 1
variables:
  hook: {type: string, secret: true}
  cdn_token: {type: string}
calls:
  default:one:
    created_by_id: alice
    custom: {hook: "${hook}", cdn: "Bearer ${cdn_token}"}
"""


def test_a_secret_variable_comes_from_its_environment_variable_only(tmp_path: Path) -> None:
    root = write(tmp_path / "m", {"m.yaml": SECRET})
    environ = {"STAGECFG_VAR_hook": "hook-VALUE-31337", "STAGECFG_VAR_cdn_token": "cdn-VALUE-1"}
    desired = state(root, env=environ)
    assert desired.calls["default:one"].custom == {
        "hook": "hook-VALUE-31337",
        "cdn": "Bearer cdn-VALUE-1",
    }
    # Registered for masking, under the environment variable a saved plan names instead.
    named = secret_variables()
    assert named["hook-VALUE-31337"] == "STAGECFG_VAR_hook"
    assert named["cdn-VALUE-1"] == "STAGECFG_VAR_cdn_token"  # its name looks secret

    var_file = write(tmp_path, {"v.yaml": "cdn_token: x\n"}) / "v.yaml"
    found = rendered(
        root,
        env=environ,
        variables=(VariableInput("hook", "x"),),
        var_files=(str(var_file),),
    )
    assert found == [
        "--var: $.variables.hook: 'hook' is a secret variable (set it through STAGECFG_VAR_hook "
        "so it stays out of shell history and plan files)",
        f"{var_file}:1:1: $.cdn_token: 'cdn_token' is a secret variable: its value may not be "
        "written in a file (set it through STAGECFG_VAR_cdn_token, so it stays out of files, "
        "shell history and plans)",
    ]
    assert "x" not in " ".join(f for f in found if "--var:" in f).split("(")[0]


def test_a_secret_variable_has_no_default_and_is_a_string(tmp_path: Path) -> None:
    text = (
        "version: 1\nvariables:\n  api_secret: {type: string, default: hunter2}\n"
        "  pin: {type: integer, secret: true}\n"
    )
    found = "\n".join(rendered(write(tmp_path, {"m.yaml": text}), env={"STAGECFG_VAR_pin": "1"}))
    assert (
        "$.variables.api_secret.default: secret variable 'api_secret' may not have a default"
        in (found)
    )
    assert "$.variables.pin.secret: a secret variable must be of type string, not integer" in found


# --- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is a directory, not a regular file: variable files are read from regular files"),
        (b"a: [1\n", "invalid YAML"),
        (b"- max_viewers\n", "the top level must be a mapping of variable names to values"),
        (b"max_viewers: 1\x00\n", "binary file (contains NUL bytes), not a YAML variable file"),
        (b"\xff\xfe", "not UTF-8 text"),
        (b"", "empty variable file"),
        (b"max_viewers: {nested: 1}\n", "variable 'max_viewers' is an integer; found a mapping"),
        (b"x" * (MAX_FILE_BYTES + 1), "over the 5 MiB file size cap"),
    ],
)
def test_a_bad_var_file_is_one_located_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    root = write(tmp_path / "m", {"m.yaml": DECLARED})
    bad = tmp_path / "vars.yaml"
    if content is None:
        bad.mkdir()
    else:
        bad.write_bytes(content)
    found = rendered(root, var_files=(str(bad),))
    assert len(found) == 1 and message in found[0] and found[0].startswith(str(bad)), found


def test_a_missing_var_file_is_one_located_error(tmp_path: Path) -> None:
    root = write(tmp_path / "m", {"m.yaml": DECLARED})
    (found,) = rendered(root, var_files=(str(tmp_path / "absent.yaml"),))
    assert found.startswith(f"{tmp_path / 'absent.yaml'}:1:1: $: cannot read file")


def test_values_that_is_not_a_mapping_is_a_schema_error(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {"m.yaml": DECLARED, "p.yaml": "version: 1\nenvironment: production\nvalues: [1, 2]\n"},
    )
    (found,) = rendered(root, environment="production")
    assert found == f"{root / 'p.yaml'}:3:9: $.values: expected a mapping, found a list"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("max_viewers", "'max_viewers' is not NAME=VALUE"),
        ("=5", "'' is not a variable name"),
        ("9lives=5", "'9lives' is not a variable name"),
    ],
)
def test_a_var_flag_must_be_name_equals_value(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_var(given)
    assert parse_var("a_b=x=y") == VariableInput("a_b", "x=y")
    assert parse_var("empty=") == VariableInput("empty", "")


def test_expand_types_and_formats(tmp_path: Path) -> None:
    declared = {"n": Value(5), "f": Value(1.5), "b": Value(True), "s": Value("x"), "u": None}
    assert expand("${n}", {}, declared) == (5, [])
    assert expand("${b}", {}, declared) == (True, [])
    assert expand("${n}/${f}/${b}/${s}", {}, declared) == ("5/1.5/true/x", [])
    assert expand("${u}", {}, declared) == ("${u}", [])  # no value: reported at the declaration
    assert expand("$${n}", {}, declared) == ("${n}", [])
    assert expand("${HOME_DIR}", {"HOME_DIR": "/h"}, declared) == ("/h", [])
