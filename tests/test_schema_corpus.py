"""validate and the committed schema agree: check-jsonschema over tests/data/invalid/.

Every case there fails ``stagecfg validate`` (tests/test_validation.py). check-jsonschema must
refuse each one too, except the cases listed below, which no JSON Schema can express; those are
named with the reason, so a new case the schema misses fails here until someone decides which.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema_cli import refused

from stagecfg import schema
from stagecfg.manifest import load

INVALID = Path(__file__).parent / "data" / "invalid"

#: Refused by validate, accepted by any JSON Schema checker, and why.
BEYOND_SCHEMA = {
    "bad-variable.yaml": "${VAR} expansion is stagecfg's, a schema checker reads the text",
    "unset-variable.yaml": "${VAR} expansion is stagecfg's, a schema checker reads the text",
    "go-live-without-live.yaml": "a rule across two keys of a call",
    "negative-join-ahead.yaml": "Stream's spec sets no minimum; the rule is in stagecfg/checks.py",
    "undeclared-call-type.yaml": "a reference from a call to a call type",
    "non-string-key.yaml": "YAML reading: check-jsonschema turns the key 1 into text",
    "yaml11-boolean-key.yaml": "YAML reading: YAML 1.1 reads the key yes as a boolean",
    "too-deep.yaml": "a nesting limit of the YAML loader",
    "strict-misspelt-role.yaml": "a role is checked against the grants of every call type",
}


#: Not given to check-jsonschema: it expands the billion laughs (about 100 s of CPU here), which
#: stagecfg's loader refuses before expanding.
NOT_RUN = {"alias-bomb.yaml"}

CASES = sorted(p for p in INVALID.glob("*.yaml") if p.name not in NOT_RUN)


@pytest.fixture(scope="module")
def schema_refused() -> set[str]:
    return refused(CASES)


def test_check_jsonschema_refuses_every_invalid_case_the_schema_can_express(
    schema_refused: set[str],
) -> None:
    assert set(BEYOND_SCHEMA) <= {p.name for p in CASES}
    assert {p.name for p in CASES} - schema_refused == set(BEYOND_SCHEMA)


def test_stagecfg_schema_check_agrees_with_check_jsonschema(schema_refused: set[str]) -> None:
    # The same schema through two implementations: where stagecfg reads a document (the others
    # are refused while reading the YAML, before any schema), its own schema check refuses it
    # exactly when check-jsonschema does.
    disagree = []
    for case in CASES:
        doc, load_problems = load(case, env={})
        if doc is None or load_problems:
            continue
        if bool(schema.validate(doc)) != (case.name in schema_refused):
            disagree.append(case.name)
    assert disagree == []
