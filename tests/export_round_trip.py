"""What the export tests share: the CLI run as a user runs it, and the three export promises.

* diff-clean: the exported file, planned against the app it came from, shows no changes;
* idempotent: a second export is the same bytes, and so is the export of a fresh sandbox the
  file was applied to;
* valid: the exported file loads as a manifest.

``app`` is the CLI flags naming the backend (``--sandbox FILE``, or ``--backend stream ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from stagecfg.cli import main
from stagecfg.render import NO_CHANGES
from stagecfg.validation import load_desired


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``stagecfg ARGV`` in-process through its entry point: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def export(capsys: pytest.CaptureFixture[str], app: Sequence[str], *flags: str) -> str:
    """The exported manifest text (``stagecfg export`` on stdout)."""
    code, out, err = run(capsys, "export", *app, *flags)
    assert code == 0, out + err
    return out


def assert_plans_empty(capsys: pytest.CaptureFixture[str], app: Sequence[str], path: Path) -> None:
    load_desired([str(path)])  # valid: raises ManifestError otherwise
    code, out, err = run(capsys, "plan", str(path), *app, "--detailed-exitcode")
    assert code == 0 and NO_CHANGES in out, out + err


def assert_round_trip(
    capsys: pytest.CaptureFixture[str], app: Sequence[str], work: Path, *flags: str
) -> str:
    """Export twice (same bytes), then plan the export against the same app (no changes)."""
    first = export(capsys, app, *flags)
    assert export(capsys, app, *flags) == first
    path = work / "exported.yaml"
    path.write_text(first, "utf-8")
    assert_plans_empty(capsys, app, path)
    return first


def assert_fresh_apply_exports_the_same(
    capsys: pytest.CaptureFixture[str],
    text: str,
    work: Path,
    *flags: str,
    expected: str | None = None,
) -> None:
    """``text`` applied to a new sandbox exports to ``expected`` (default: ``text``) again, and
    ``text`` re-plans empty there."""
    path = work / "exported.yaml"
    path.write_text(text, "utf-8")
    fresh = ("--sandbox", str(work / f"fresh-{len(list(work.glob('fresh-*.db')))}.db"))
    code, out, err = run(capsys, "apply", str(path), *fresh, "--auto-approve")
    assert code == 0, out + err
    assert export(capsys, fresh, *flags) == (text if expected is None else expected)
    assert_plans_empty(capsys, fresh, path)


#: One value for every settings group of the manifest schema, each leaf unlike the ``default``
#: call type's (so a type or call declaring it exports exactly this); the keys a group's schema
#: requires are set too. tests/test_export_call_types.py holds it to every group the schema has.
EVERY_SETTINGS_GROUP: dict[str, Any] = {
    "audio": {
        "default_device": "speaker",
        "mic_default_on": False,
        "hifi_audio_enabled": True,
        "noise_cancellation": {"mode": "auto-on"},
    },
    "backstage": {"enabled": True, "join_ahead_time_seconds": 60},
    "broadcasting": {
        "hls": {"auto_on": True, "quality_tracks": ["1080p"]},
        "rtmp": {"enabled": True, "quality": "1080p"},
    },
    "encryption": {"mode": "available"},
    "frame_recording": {"mode": "auto-on", "capture_interval_in_seconds": 5},
    "geofencing": {"names": ["european_union"]},
    "individual_recording": {"mode": "disabled"},
    "ingress": {"enabled": True},
    "limits": {"max_participants": 25, "max_duration_seconds": 3600},
    "raw_recording": {"mode": "auto-on", "audio_only": True},
    "recording": {"mode": "auto-on", "quality": "1080p"},
    "ring": {"incoming_call_timeout_ms": 30000, "auto_cancel_timeout_ms": 20000},
    "screensharing": {"enabled": False, "access_request_enabled": False},
    "session": {"inactivity_timeout_seconds": 120},
    "thumbnails": {"enabled": False},
    "transcription": {"mode": "auto-on", "language": "en", "closed_caption_mode": "auto-on"},
    "video": {
        "camera_facing": "back",
        "target_resolution": {"width": 1280, "height": 720, "bitrate": 1500000},
    },
}
