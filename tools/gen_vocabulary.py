"""Write Stream's vocabulary into the manifest schema: permission ids, built-in roles, date-time.

Usage: python tools/gen_vocabulary.py

The permission ids (with their ``-owner`` and ``-any-team`` forms) come from
stagecfg/rules/permissions.py and the built-in roles from stagecfg/rules/roles.py, the one home of
each; this script copies them, with a description per value, into the parts of both schema files
that editors complete from. Only those parts are rewritten; the rest of the schema is left as it is,
except the parts derived from it, which tools/gen_schema_variants.py writes (run here too).
tests/test_schema.py fails when the committed schema and the rules drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stagecfg.rules import permissions, roles

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = (ROOT / "schemas" / "stagecfg.schema.json", ROOT / "stagecfg" / "stagecfg.schema.json")

# JSON Schema's date-time (RFC 3339 section 5.6): T or t between date and time, never a space
# (check-jsonschema refuses one), and no year 0000, which has no calendar date in Python. No
# lookahead: every regex engine that reads the schema (ECMA 262, Rust, Python) takes this one.
_YEAR = r"([1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])"
RFC3339_PATTERN = _YEAR + r"-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"

_SCOPES = {
    "-owner": "Only on calls the user created.",
    "-any-team": "On calls of any team, not only the user's own (multi-tenant apps).",
}


def _unlocks(permission: str) -> str:
    capability = permissions.capability_of(permission)
    if capability not in permissions.OWN_CAPABILITIES:
        return f"Permission '{permission}' (no own_capabilities entry of its own)."
    if capability != permission:
        return f"Unlocks the capability {capability} (the grant is spelled {permission})."
    return f"Unlocks the capability {capability}."


def permission_values() -> list[tuple[str, str]]:
    """Every permission id a grant list accepts, with its description, base id first."""
    values: list[tuple[str, str]] = []
    for base in permissions.PERMISSION_IDS:
        values.append((base, _unlocks(base)))
        for suffix in permissions.SUFFIXES:
            values.append((base + suffix, f"{_unlocks(base)} {_SCOPES[suffix]}"))
    return values


def permission_def() -> dict[str, Any]:
    values = permission_values()
    return {
        "description": (
            "A Stream permission id (README: Permission ids), optionally with -owner (only on "
            "calls the user created) or -any-team (calls of any team). Capability names such as "
            "start-record-call are not permission ids."
        ),
        "type": "string",
        "enum": [value for value, _ in values],
        "enumDescriptions": [text for _, text in values],
    }


def grant_list_def() -> dict[str, Any]:
    return {
        "description": "The complete list of permission ids of one role (it replaces its list).",
        "type": "array",
        "items": {"$ref": "#/$defs/PermissionId"},
        "uniqueItems": True,
    }


def _grant_roles() -> dict[str, str]:
    described = {**roles.CALL_ROLES, **roles.APP_ROLES}
    return dict(sorted(described.items()))


def patch(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its vocabulary parts generated from the rules (modified in place)."""
    defs = schema["$defs"]
    defs["GrantList"] = grant_list_def()
    defs["PermissionId"] = permission_def()
    schema["$defs"] = dict(sorted(defs.items()))
    grants = defs["CallType"]["properties"]["grants"]
    grants["properties"] = {
        role: {
            "description": f"{text} Built-in role; custom roles are allowed too.",
            "$ref": "#/$defs/GrantList",
        }
        for role, text in _grant_roles().items()
    }
    grants["additionalProperties"] = {"$ref": "#/$defs/GrantList"}
    defs["User"]["properties"]["role"]["examples"] = list(roles.APP_ROLES)
    members = defs["Call"]["properties"]["members"]["additionalProperties"]
    members["examples"] = list(roles.CALL_ROLES)
    defs["Call"]["properties"]["starts_at"]["pattern"] = f"^{RFC3339_PATTERN}$"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_schema_variants", Path(__file__).with_name("gen_schema_variants.py")
    )
    assert spec is not None and spec.loader is not None
    variants = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(variants)
    text = render(variants.derive(patch(json.loads(OUTPUTS[0].read_text("utf-8")))))
    for out in OUTPUTS:
        out.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
