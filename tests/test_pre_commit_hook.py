"""The pre-commit hooks, run by the real pre-commit on a throwaway repository with split manifests.

pre-commit installs this checkout the way a user's pre-commit would: it clones a snapshot of it
(HEAD plus the uncommitted changes to tracked files, committed in a temporary clone) and runs
``pip install .`` into a virtualenv of its own. pip uses the package index it is configured with
(as ``.ci/run``'s own install does); its cache, virtualenv's and pre-commit's live in tmp. The
tests skip only when git or pre-commit is missing.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(
        importlib.util.find_spec("pre_commit") is None,
        reason="pre-commit is not installed (it is in the [test] extra)",
    ),
]

IDENTITY = {
    "GIT_AUTHOR_NAME": "stagecfg tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "stagecfg tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
}
TYPES = """\
version: 1
call_types:
  weekly-show:
    grants:
      host: [join-call, read-call, send-audio, send-video]
"""
SHOWS = """\
version: 1
users:
  ada: {role: user, name: Ada}
calls:
  weekly-show:episode-1:
    created_by_id: ada
    starts_at: "2027-03-01T18:00:00Z"
    members: {ada: host}
"""


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**os.environ, **IDENTITY},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


@pytest.fixture(scope="module")
def hook_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A clone of this checkout with its uncommitted changes committed, and that commit."""
    clone = tmp_path_factory.mktemp("stagecfg-clone")
    head = git(REPO_ROOT, "rev-parse", "HEAD").decode().strip()
    git(clone, "clone", "--quiet", "--no-checkout", str(REPO_ROOT), ".")
    git(clone, "checkout", "--quiet", "--detach", head)
    changes = git(REPO_ROOT, "diff", "--binary", "HEAD")
    if changes:
        git(clone, "apply", "--index", "-", stdin=changes)
        git(clone, "commit", "--quiet", "--no-verify", "-m", "uncommitted changes under test")
    return clone, git(clone, "rev-parse", "HEAD").decode().strip()


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-caches")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's repository: the call type in one manifest, the call using it in another."""
    repo = tmp_path / "project"
    (repo / "stagecfg").mkdir(parents=True)
    (repo / "stagecfg" / "types.yaml").write_text(TYPES, "utf-8")
    (repo / "stagecfg" / "shows.yaml").write_text(SHOWS, "utf-8")
    (repo / "README.md").write_text("# shows\n", "utf-8")
    git(repo, "init", "--quiet")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "manifests")
    return repo


def pre_commit(repo: Path, caches: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **IDENTITY,
        "PRE_COMMIT_HOME": str(caches / "pre-commit"),
        "PIP_CACHE_DIR": str(caches / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "VIRTUALENV_OVERRIDE_APP_DATA": str(caches / "virtualenv"),
    }
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def stage(repo: Path, name: str, old: str, new: str) -> None:
    path = repo / name
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    git(repo, "add", name)


def test_a_one_line_change_to_one_of_split_manifests_passes(
    project: Path, hook_source: tuple[Path, str], caches: Path
) -> None:
    stage(project, "stagecfg/shows.yaml", "2027-03-01T18:00", "2027-03-08T18:00")
    # The staged file alone is not a valid manifest set: the hook must not check it alone.
    alone = subprocess.run(
        [str(Path(sys.executable).parent / "stagecfg"), "validate", "stagecfg/shows.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert alone.returncode == 1 and "'weekly-show' is neither declared" in alone.stderr
    source, rev = hook_source
    proc = pre_commit(project, caches, "try-repo", str(source), "stagecfg-validate", "--ref", rev)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^stagecfg validate\.+Passed$", proc.stdout, re.M), proc.stdout


def test_a_broken_manifest_fails_the_commit_at_its_file_line_col(
    project: Path, hook_source: tuple[Path, str], caches: Path
) -> None:
    stage(project, "stagecfg/shows.yaml", "weekly-show:episode-1", "weekly-shw:episode-1")
    source, rev = hook_source
    proc = pre_commit(project, caches, "try-repo", str(source), "stagecfg-validate", "--ref", rev)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^stagecfg validate\.+Failed$", proc.stdout, re.M), proc.stdout
    assert re.search(
        r"^stagecfg/shows\.yaml:5:3: .*call type 'weekly-shw' is neither declared.*"
        r"did you mean 'weekly-show'",
        proc.stdout,
        re.M,
    ), proc.stdout


def test_another_directory_via_args_and_files_and_the_strict_hook(
    project: Path, hook_source: tuple[Path, str], caches: Path
) -> None:
    git(project, "mv", "stagecfg", "manifests")
    source, rev = hook_source
    hooks = [
        {"id": hook_id, "args": ["manifests/"], "files": r"^manifests/.*\.ya?ml$"}
        for hook_id in ("stagecfg-validate", "stagecfg-validate-strict")
    ]
    config = {"repos": [{"repo": str(source), "rev": rev, "hooks": hooks}]}
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), "utf-8")
    git(project, "add", ".pre-commit-config.yaml")
    git(project, "commit", "--quiet", "--no-verify", "-m", "move manifests; add hooks")

    stage(project, "README.md", "# shows", "# weekly shows")
    proc = pre_commit(project, caches, "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(re.findall(r"\(no files to check\)Skipped$", proc.stdout, re.M)) == 2, proc.stdout

    # A member role that no call type grants anything is a warning: only --strict fails on it.
    stage(project, "manifests/shows.yaml", "{ada: host}", "{ada: hots}")
    proc = pre_commit(project, caches, "run")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^stagecfg validate\.+Passed$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^stagecfg validate --strict\.+Failed$", proc.stdout, re.M), proc.stdout
    assert re.search(
        r"^manifests/shows\.yaml:\d+:\d+: .*warning: call role 'hots'", proc.stdout, re.M
    )
