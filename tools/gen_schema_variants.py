"""Write the derived parts of the manifest schema: variable references and overlay patches.

Usage: python tools/gen_schema_variants.py   (tools/gen_vocabulary.py runs it too)

Both schema files hold, besides the definitions written by hand (and the vocabulary that
gen_vocabulary.py copies in from stagecfg/rules/), two parts derived from them here:

1. Every integer, number and boolean field also accepts a reference to a typed variable:
   ``anyOf: [<the field>, {$ref: VariableReference}]``, so editors and check-jsonschema accept
   ``max_participants: ${max_viewers}``. stagecfg checks the data once the reference is filled
   in, without these alternatives (``stagecfg.schema_document.strip_variable_references``).
2. For each definition an object's property reaches from User, CallType and Call, a patch
   definition ``<Name>Patch`` for ``overlay:`` entries: the same keys, no ``required``, and
   ``null`` allowed for every key (it removes the declared one). Lists replace the declared list
   as a whole, so list items keep the full definitions. ``properties.overlay`` is written from
   them.

The result does not depend on the derived parts already in the file: they are stripped first,
so running this twice changes nothing (tests/test_schema.py holds the files to it).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from stagecfg.schema_document import VARIABLE_REFERENCE, strip_variable_references

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = (ROOT / "schemas" / "stagecfg.schema.json", ROOT / "stagecfg" / "stagecfg.schema.json")

REFERENCE = {"$ref": f"#/$defs/{VARIABLE_REFERENCE}"}
NULL = {"type": "null"}
PATCHED = {"users": "User", "call_types": "CallType", "calls": "Call"}
#: Definitions whose values are taken literally: variables are never filled in there.
LITERAL = ("Variable", "VariableValue")
TYPED = ("integer", "number", "boolean")


def _reference_def() -> dict[str, Any]:
    return {
        "description": (
            "A reference to a typed variable declared under variables:, such as ${max_viewers}; "
            "stagecfg puts the variable's value here, with its type."
        ),
        "type": "string",
        "pattern": "^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$",
    }


def _accept_references(node: Any) -> Any:
    """Each typed field as ``anyOf: [field, VariableReference]`` (its description outside)."""
    if isinstance(node, list):
        return [_accept_references(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") in TYPED and "const" not in node:
        inner = {k: v for k, v in node.items() if k != "description"}
        outer = {"description": node["description"]} if "description" in node else {}
        return {**outer, "anyOf": [inner, REFERENCE]}
    return {
        key: (value if key in ("enum", "examples", "required") else _accept_references(value))
        for key, value in node.items()
    }


def _patch_name(ref: str) -> str | None:
    name = ref.removeprefix("#/$defs/")
    return name if name != ref else None


class _Patches:
    """The patch definitions, made on demand as object properties reach definitions."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.made: dict[str, Any] = {}

    def of_def(self, name: str) -> str:
        patch = f"{name}Patch"
        if patch not in self.made:
            self.made[patch] = {}  # reserved first: definitions may refer to each other
            body = self.patch(self.defs[name])
            body["description"] = (
                f"An overlay's patch of {name}: keys merge into the declared object, a list "
                "replaces the declared list, null removes a key."
            )
            self.made[patch] = body
        return patch

    def nullable(self, node: Any) -> dict[str, Any]:
        inner = self.patch(node)
        described = isinstance(inner, dict) and "description" in inner
        outer = {"description": inner["description"]} if described else {}
        rest = {k: v for k, v in inner.items() if k != "description"} if described else inner
        return {**outer, "anyOf": [rest, NULL]}

    def patch(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = _patch_name(ref)
            if name and self.defs.get(name, {}).get("type") == "object":
                return {**node, "$ref": f"#/$defs/{self.of_def(name)}"}
            return dict(node)
        if node.get("type") != "object":
            return copy.deepcopy(node)  # lists and scalars are replaced whole
        result: dict[str, Any] = {k: v for k, v in node.items() if k != "required"}
        if isinstance(node.get("properties"), dict):
            result["properties"] = {k: self.nullable(v) for k, v in node["properties"].items()}
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            result["additionalProperties"] = self.nullable(extra)
        return result


def _overlay(schema: dict[str, Any], patches: _Patches) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for section, name in PATCHED.items():
        full = schema["properties"][section]
        sections[section] = {
            "description": f"Patches of {section} declared elsewhere, keyed like {section}.",
            "type": "object",
            "propertyNames": full["propertyNames"],
            "additionalProperties": {"anyOf": [{"$ref": f"#/$defs/{patches.of_def(name)}"}, NULL]},
        }
    return {
        "description": (
            "Patches of objects declared in other loaded files: mappings merge key by key, "
            "lists replace, null removes a key (null for a whole entry removes the object)."
        ),
        "type": "object",
        "additionalProperties": False,
        "properties": sections,
    }


def derive(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its derived parts made again from the hand-written ones."""
    base = strip_variable_references(schema)
    defs = {k: v for k, v in base["$defs"].items() if not k.endswith("Patch")}
    for name, body in list(defs.items()):
        if name not in LITERAL:
            defs[name] = _accept_references(body)
    defs[VARIABLE_REFERENCE] = _reference_def()
    patches = _Patches(defs)
    base["properties"]["overlay"] = _overlay(base, patches)
    result = dict(base)
    properties = {k: v for k, v in base["properties"].items() if k != "overlay"}
    position = list(properties).index("calls") + 1
    ordered = list(properties.items())
    ordered.insert(position, ("overlay", base["properties"]["overlay"]))
    result["properties"] = dict(ordered)
    result["$defs"] = dict(sorted({**defs, **patches.made}.items()))
    return result


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    text = render(derive(json.loads(OUTPUTS[0].read_text("utf-8"))))
    for out in OUTPUTS:
        out.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
