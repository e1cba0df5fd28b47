"""Issue 12, problem 1: every declared user field is managed and no undeclared one is lost.

The user is seeded through the backend, not through stagecfg, so he holds fields the manifests
leave out; then the CLI renames him, plans single-field changes, exports and re-plans, on the
local sandbox and, through ``--backend stream``, on the emulator over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from emulator_fixture import MakeEmulator, make_emulator, stream_backend_for  # noqa: F401

from stagecfg.backends import open_backend
from stagecfg.backends.base import Backend
from stagecfg.cli import main
from stagecfg.model import UserState
from stagecfg.render import NO_CHANGES
from stagecfg.sandbox import Engine

#: Zed as seeded: every UserRequest field set.
ZED: dict[str, Any] = {
    "role": "user",
    "name": "Zed",
    "image": "https://img.example/zed.png",
    "teams": ["red"],
    "custom": {"tier": "gold"},
    "language": "de",
    "invisible": True,
    "privacy_settings": {"typing_indicators": {"enabled": False}},
    "teams_role": {"red": "admin"},
}

RENAME = """\
version: 1
users:
  zed: {name: Zed Zulu}
"""


class Cli:
    """The CLI against one backend (local sandbox or the emulator), plus that backend."""

    def __init__(
        self,
        capsys: pytest.CaptureFixture[str],
        flags: tuple[str, ...],
        backend: Backend,
        sandbox: Path,
    ) -> None:
        self.capsys = capsys
        self.flags = flags
        self.backend = backend
        self.sandbox = sandbox  # the SQLite file behind either backend

    def run(self, *argv: str) -> tuple[int, str]:
        with pytest.raises(SystemExit) as info:
            main([*argv, *self.flags])
        out, err = self.capsys.readouterr()
        code = info.value.code
        return (code if isinstance(code, int) else 0), out + err

    def user(self, uid: str = "zed") -> UserState:
        return self.backend.read(users=[uid]).users[uid]

    def stored(self, uid: str = "zed") -> dict[str, Any]:
        """The user's UserResponse straight from the sandbox file, bypassing stagecfg's read."""
        engine = Engine(self.sandbox)
        try:
            (user,) = engine.query_users({"filter_conditions": {"id": uid}})["users"]
        finally:
            engine.close()
        return {key: user.get(key) for key in ZED}


@pytest.fixture(params=["local", "stream"])
def cli(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: MakeEmulator,  # noqa: F811
) -> Any:
    monkeypatch.chdir(tmp_path)
    if request.param == "local":
        sandbox = tmp_path / "local.db"
        backend: Backend = open_backend("local", sandbox_path=str(sandbox))
        flags: tuple[str, ...] = ("--backend", "local", "--sandbox", str(sandbox))
    else:
        sandbox = tmp_path / "emulator.db"
        handle = make_emulator(sandbox_path=sandbox)
        monkeypatch.setenv("STREAM_API_SECRET", handle.api_secret)
        backend = stream_backend_for(handle)
        flags = ("--backend", "stream", "--base-url", handle.url, "--api-key", handle.api_key)
    # Seeded outside stagecfg's plan/apply, with a call that refers to him (export writes the
    # users the calls refer to).
    backend.upsert_users({"zed": ZED})
    backend.create_call("default:weekly", {"created_by_id": "zed"})
    yield Cli(capsys, flags, backend, sandbox)
    backend.close()


def assert_has_every_field(cli: Cli, **changed: Any) -> None:
    """The stored user, and stagecfg's read of him, hold ZED with ``changed`` applied."""
    want = {**ZED, **changed}
    assert cli.stored() == want
    user = cli.user()
    assert {key: getattr(user, key) for key in want} == want


def test_rename_keeps_every_undeclared_field(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(RENAME, "utf-8")
    code, out = cli.run("apply", "m.yaml", "--auto-approve")
    assert code == 0, out
    assert_has_every_field(cli, name="Zed Zulu")
    code, out = cli.run("plan", "m.yaml", "--detailed-exitcode")
    assert code == 0 and NO_CHANGES in out, out


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("teams", ["red", "blue"]),
        ("image", "https://img.example/zed-2.png"),
        ("language", "fr"),
        ("invisible", False),
        ("teams_role", {"red": "user"}),
        ("custom", {"tier": "silver"}),
    ],
)
def test_changing_one_field_plans_and_applies_exactly_that(
    cli: Cli, tmp_path: Path, field: str, value: Any
) -> None:
    manifest = {"version": 1, "users": {"zed": {field: value}}}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(manifest), "utf-8")
    code, out = cli.run("plan", "m.yaml", "--format", "json", "--detailed-exitcode")
    assert code == 2, out
    (change,) = json.loads(out[: out.rindex("}") + 1])["changes"]
    assert change["action"] == "update"
    assert change["fields"] == [{"path": field, "before": ZED[field], "after": value}]
    assert change["body"] == {"id": "zed", "set": {field: value}}
    code, out = cli.run("apply", "m.yaml", "--auto-approve")
    assert code == 0, out
    assert_has_every_field(cli, **{field: value})


def test_export_writes_every_field_and_re_plans_to_no_changes(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(RENAME, "utf-8")
    assert cli.run("apply", "m.yaml", "--auto-approve")[0] == 0
    code, out = cli.run("export", "--out", "exported.yaml")
    assert code == 0, out
    exported = yaml.safe_load((tmp_path / "exported.yaml").read_text("utf-8"))
    assert exported["users"]["zed"] == {**ZED, "name": "Zed Zulu"}
    code, out = cli.run("plan", "exported.yaml", "--detailed-exitcode")
    assert code == 0 and NO_CHANGES in out, out
    # The exported file applied again changes nothing and loses nothing.
    assert cli.run("apply", "exported.yaml", "--auto-approve")[0] == 0
    assert_has_every_field(cli, name="Zed Zulu")
