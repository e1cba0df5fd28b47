"""The job summary: Markdown appended to the file ``$GITHUB_STEP_SUMMARY`` names.

GitHub shows at most 1 MiB of summary per step and fails the upload of a larger one, so an
append that would take the file past :data:`MAX_SUMMARY_BYTES` is skipped with a notice. The
file is opened without blocking and without following a symlink, and must be a regular file.
"""

from __future__ import annotations

import os
import stat

from stagecfg.github.client import GithubError

#: GitHub's limit for one step's summary.
MAX_SUMMARY_BYTES = 1024 * 1024


def append_step_summary(path: str, markdown: str, *, what: str = "the plan") -> str | None:
    """Append ``markdown`` (and a blank line) to the summary file; a notice when skipped
    (``what`` names the Markdown in it)."""
    data = (markdown.rstrip("\n") + "\n\n").encode("utf-8")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    for name in ("O_NONBLOCK", "O_NOFOLLOW", "O_CLOEXEC"):
        flags |= getattr(os, name, 0)
    what = f"GITHUB_STEP_SUMMARY {path}"
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise GithubError(f"{what}: cannot write the job summary ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise GithubError(f"{what}: not a regular file; GitHub writes the summary to one")
        if info.st_size + len(data) > MAX_SUMMARY_BYTES:
            return (
                f"notice: {what} was not added to the job summary: it would pass GitHub's "
                f"{MAX_SUMMARY_BYTES // 1024} KiB per step ({info.st_size:,} bytes are there)"
            )
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
    except OSError as exc:
        raise GithubError(f"{what}: cannot write the job summary ({exc.strerror})") from None
    finally:
        os.close(fd)
    return None
