"""check-jsonschema, the independent schema checker, run once over many files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from conftest import REPO_ROOT

SCHEMA = REPO_ROOT / "schemas" / "stagecfg.schema.json"


def refused(files: Sequence[Path]) -> set[str]:
    """Names of the files check-jsonschema refuses (schema errors or unparsable YAML)."""
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "-o", "json", "--schemafile", str(SCHEMA)]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    failed = report.get("errors", []) + report.get("parse_errors", [])
    return {Path(entry["filename"]).name for entry in failed}
