"""Built-in roles: the built-in call types grant ``call_member`` (the role a member holds when
none is named), the sandbox and ``stagecfg access`` use those grants, and a sandbox seeded before
the built-ins had the role gains it once, without touching grants anyone changed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from stagecfg.cli import main
from stagecfg.rules.builtins import BUILTIN_CALL_TYPES, builtin_call_types
from stagecfg.sandbox.engine import Engine

LIVESTREAM = """\
version: 1
users:
  john: {}
calls:
  livestream:show:
    created_by_id: john
    starts_at: "2099-01-01T18:00:00Z"
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_every_builtin_type_grants_call_member_join_but_not_backstage() -> None:
    for name, call_type in builtin_call_types().items():
        member = call_type["grants"]["call_member"]
        assert {"join-call", "read-call"} <= set(member), name
        assert not any(p.startswith("join-backstage") for p in member), name
        # Nothing a member can do that the type's user role cannot.
        assert set(member) <= set(call_type["grants"]["user"]), name
    livestream = builtin_call_types()["livestream"]["grants"]["call_member"]
    # On livestream members publish only on calls they created (reference 3.3).
    assert {"send-audio-owner", "send-video-owner"} <= set(livestream)
    assert not {"send-audio", "send-video"} & set(livestream)


def test_access_admits_call_member_on_a_livestream_call_after_go_live(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(LIVESTREAM, "utf-8")
    code, out, err = _run(capsys, "access", "livestream:show", str(path))
    assert (code, err) == (0, "")
    assert (
        "  after go-live: every role with join-call: admin, anonymous, call_member, host, user"
        in (out.splitlines())
    )
    code, out, _ = _run(capsys, "access", "livestream:show", str(path), "--role", "call_member")
    assert code == 0
    assert out.splitlines()[1:] == [
        "  role call_member:",
        "    before go-live: no (lacks join-backstage)",
        "    after go-live: yes (holds join-call)",
        "    after stop-live: no (lacks join-backstage)",
        "    after end-call: no (lacks join-ended-call)",
    ]


def test_sandbox_member_without_a_role_joins_a_live_call_as_call_member(tmp_path: Path) -> None:
    # A guest has no grants on livestream; being a member (call_member by default) lets them in.
    engine = Engine(tmp_path / "sandbox.db")
    engine.upsert_users(
        {"users": {"john": {"id": "john"}, "gina": {"id": "gina", "role": "guest"}}}
    )
    engine.get_or_create_call(
        "livestream",
        "show",
        {"data": {"created_by_id": "john", "members": [{"user_id": "gina"}]}},
    )
    engine.go_live("livestream", "show", {})
    joined = engine.join_call("livestream", "show", user_id="gina", body={})
    assert "join-call" in joined["own_capabilities"]
    assert "send-audio" not in joined["own_capabilities"]
    engine.close()


def _rewrite_as_before_call_member(db: Path, changed: dict[str, dict[str, list[str]]]) -> None:
    """Make ``db`` look seeded by a stagecfg whose built-ins had no call_member, with the
    ``changed`` roles set as someone's UpdateCallType left them."""
    with sqlite3.connect(db) as conn:
        for name, text in conn.execute("SELECT name, data FROM call_types").fetchall():
            data = json.loads(text)
            data["grants"].pop("call_member", None)
            data["grants"].update(changed.get(name, {}))
            conn.execute("UPDATE call_types SET data = ? WHERE name = ?", (json.dumps(data), name))
        conn.execute("DELETE FROM meta WHERE key = 'builtin_roles'")
    conn.close()


def test_sandbox_seeded_before_call_member_gains_its_defaults_once(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    Engine(db).close()
    _rewrite_as_before_call_member(
        db,
        {"livestream": {"user": ["join-call"]}, "default": {"call_member": ["read-call"]}},
    )
    engine = Engine(db)
    defaults = builtin_call_types()
    for name in BUILTIN_CALL_TYPES:
        grants = engine.get_call_type(name)["grants"]
        if name == "default":
            assert grants["call_member"] == ["read-call"]  # present: never overwritten
        else:
            assert grants["call_member"] == defaults[name]["grants"]["call_member"], name
    assert engine.get_call_type("livestream")["grants"]["user"] == ["join-call"]
    # A later change to call_member survives reopening.
    engine.update_call_type("livestream", {"grants": {"call_member": []}})
    engine.close()
    engine = Engine(db)
    assert engine.get_call_type("livestream")["grants"]["call_member"] == []
    engine.close()
