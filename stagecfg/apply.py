"""Run a plan through a backend: stage by stage, bounded parallelism, stop on the first failure.

Apply executes exactly the plan's changes (it never re-plans). Within a stage up to
``parallelism`` changes are in flight at once; once one fails, or Ctrl-C arrives, no new change
starts, the ones in flight finish, and the report says what succeeded, what failed and what
never started: every change is either finished or left for the next run. Every change is
idempotent against a re-read state, so re-running apply converges.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from stagecfg.backends.base import Backend
from stagecfg.errors import EXIT_INTERRUPTED, ApplyFailed, BackendError
from stagecfg.model import KIND_CALL, KIND_CALL_TYPE, KIND_USER, ActualState, DesiredState
from stagecfg.plan.changes import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_GO_LIVE,
    ACTION_STOP_LIVE,
    ACTION_UPDATE,
    Change,
    Plan,
)
from stagecfg.render import FULL_HINT, change_title, count_rows, format_value
from stagecfg.rules.limits import MEMBERS_PER_REQUEST, USERS_PER_REQUEST

#: ``progress(done, total, change)`` after each finished change.
Progress = Callable[[int, int, Change], None]


class ApplyInterrupted(ApplyFailed):
    """Ctrl-C during apply: the report was printed; exit 130."""

    exit_code = EXIT_INTERRUPTED


@dataclass(frozen=True)
class Failure:
    change: Change
    message: str
    code: int | None = None
    status: int | None = None


@dataclass
class ApplyReport:
    """What happened to each change of the plan."""

    succeeded: list[Change] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    not_started: list[Change] = field(default_factory=list)
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.not_started and not self.interrupted

    def render(self, *, full: bool = False) -> str:
        """A short account that ends the run: the counts, the failed changes with their errors
        (operation, kind, object and Stream's code), and what is left for the next run.

        Names are listed when there are few (:data:`FEW`, :data:`FEW_FAILED`), or all with
        ``full``; otherwise counted. Finished changes come first, so the summary stays last.
        """
        total = len(self.succeeded) + len(self.failed) + len(self.not_started)
        done = self.succeeded if full or len(self.succeeded) <= FEW else []
        lines = [f"  done:   {change_title(change)}" for change in done]
        lines.append(
            f"Applied {len(self.succeeded):,} of {total:,} changes; {len(self.failed):,} failed, "
            f"{len(self.not_started):,} not started."
        )
        shown = len(self.failed) if full else FEW_FAILED
        lines += [_failed_line(failure) for failure in self.failed[:shown]]
        if len(self.failed) > shown:
            lines.append(f"  ... and {len(self.failed) - shown:,} more failed {FULL_HINT}")
        if self.not_started:
            counts = "; ".join(f"{label}: {text}" for label, text in count_rows(self.not_started))
            lines.append(f"  not started: {counts}")
            shown = len(self.not_started) if full else FEW
            lines += [f"    {change_title(change)}" for change in self.not_started[:shown]]
            if len(self.not_started) > shown:
                lines.append(f"    ... and {len(self.not_started) - shown:,} more {FULL_HINT}")
        if not self.ok:
            if self.interrupted:
                lines.append("Interrupted: no new changes were started after Ctrl-C.")
            left = len(self.failed) + len(self.not_started)
            if left:
                lines.append(
                    f"Left for the next run: {left:,} change{'s' if left != 1 else ''} "
                    f"({len(self.failed):,} failed, {len(self.not_started):,} not started)."
                )
            advice = "Fix the cause and run" if self.failed else "Run"
            lines.append(
                f"Nothing else was changed. {advice} apply again to finish: it re-reads the "
                "backend and converges."
            )
        return "\n".join(lines) + "\n"


#: Without ``full`` a report names the finished changes when there are at most this many (else
#: it only counts them), the first this many not started, and the first FEW_FAILED failures.
FEW = 5
FEW_FAILED = 10


def _failed_line(failure: Failure) -> str:
    c = failure.change
    code = ""
    if failure.code is not None:
        code = f" (Stream code {failure.code}"
        code += f", HTTP {failure.status})" if failure.status else ")"
    return f"  failed: {c.action} {c.kind} {c.name}: {failure.message}{code}"


def run_change(backend: Backend, change: Change) -> None:
    """Send one change's request(s) to the backend."""
    kind, action, name, body = change.kind, change.action, change.name, change.body
    if kind == KIND_USER and action == ACTION_CREATE:
        backend.upsert_users({name: body})
    elif kind == KIND_USER and action == ACTION_UPDATE:
        # Only the declared fields that differ: UpdateUsers would replace the whole user.
        backend.update_users_partial({name: body})
    elif kind == KIND_CALL_TYPE and action == ACTION_CREATE:
        backend.create_call_type(name, body)
    elif kind == KIND_CALL_TYPE and action == ACTION_UPDATE:
        backend.update_call_type(name, body)
    elif kind == KIND_CALL_TYPE and action == ACTION_DELETE:
        backend.delete_call_type(name)
    elif kind == KIND_CALL and action == ACTION_CREATE:
        members = list(body.get("members") or [])
        data = dict(body)
        if len(members) > MEMBERS_PER_REQUEST:
            data["members"] = members[:MEMBERS_PER_REQUEST]
        backend.create_call(name, data)
        if len(members) > MEMBERS_PER_REQUEST:
            backend.update_members(name, members[MEMBERS_PER_REQUEST:], [])
    elif kind == KIND_CALL and action == ACTION_UPDATE:
        if body.get("update_call"):
            backend.update_call(name, body["update_call"])
        part = body.get("update_call_members") or {}
        if part:
            # The backend cuts member lists to Stream's 100 per request.
            backend.update_members(
                name, list(part.get("update_members") or []), list(part.get("remove_members") or [])
            )
    elif kind == KIND_CALL and action == ACTION_DELETE:
        backend.delete_call(name)
    elif kind == KIND_CALL and action == ACTION_GO_LIVE:
        backend.go_live(name, body)
    elif kind == KIND_CALL and action == ACTION_STOP_LIVE:
        backend.stop_live(name, body)
    else:
        raise ValueError(f"unknown change {action} {kind}")


def _failure(change: Change, exc: BaseException) -> Failure:
    if isinstance(exc, BackendError):
        f = exc.failure
        return Failure(change, f.message or str(exc), f.code, f.status)
    # Not a backend refusal: most likely a bug, but the report must still name the change.
    return Failure(change, f"{type(exc).__name__}: {exc}")


Job = tuple[Change, ...]


def _jobs(stage: list[Change]) -> list[Job]:
    """One request per change, except user creates and user updates, which go 100 to a request
    (each batch one action: creates upsert, updates are partial)."""
    batches: list[Job] = []
    for action in (ACTION_CREATE, ACTION_UPDATE):
        users = [c for c in stage if c.kind == KIND_USER and c.action == action]
        batches.extend(
            tuple(users[i : i + USERS_PER_REQUEST]) for i in range(0, len(users), USERS_PER_REQUEST)
        )
    others = [(c,) for c in stage if c.kind != KIND_USER]
    return [*batches, *others]


def run_job(backend: Backend, job: Job) -> None:
    if job[0].kind != KIND_USER:
        run_change(backend, job[0])
    elif job[0].action == ACTION_UPDATE:
        backend.update_users_partial({c.name: c.body for c in job})
    else:
        backend.upsert_users({c.name: c.body for c in job})


@contextlib.contextmanager
def _ctrl_c_requests_stop() -> Iterator[threading.Event]:
    """While applying, the first Ctrl-C asks to stop starting changes; a second one aborts.

    A flag rather than KeyboardInterrupt: an exception can surface at any bytecode in the main
    thread (inside bookkeeping, or in a finaliser where Python drops it), so the report could
    lose track of a change. Signal handlers can only be set from the main thread; elsewhere the
    KeyboardInterrupt path in :func:`execute` still applies.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def on_sigint(signum: int, frame: object) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


#: How often the main thread looks at the Ctrl-C flag while changes are in flight.
_POLL_SECONDS = 0.1


def execute(
    plan: Plan,
    backend: Backend,
    *,
    parallelism: int = 8,
    progress: Progress | None = None,
) -> ApplyReport:
    """Apply ``plan`` in stage order; never raises for a failed change (see the report)."""
    report = ApplyReport()
    total = len(plan.changes)
    stages = [list(g) for _, g in itertools.groupby(plan.changes, key=lambda c: c.stage)]
    stopped = False

    def finish(job: Job, exc: BaseException | None) -> None:
        for change in job:
            if exc is None:
                report.succeeded.append(change)
            else:
                report.failed.append(_failure(change, exc))

    with (
        _ctrl_c_requests_stop() as stop_requested,
        ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool,
    ):
        for stage in stages:
            if stopped:
                report.not_started += stage
                continue
            queue = list(reversed(_jobs(stage)))
            running: dict[Future[None], Job] = {}
            try:
                while queue or running:
                    if stop_requested.is_set() and not report.interrupted:
                        stopped = report.interrupted = True
                    while queue and not stopped and len(running) < parallelism:
                        job = queue.pop()
                        running[pool.submit(run_job, backend, job)] = job
                    if not running:
                        break
                    done, _ = wait(running, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: running[f][0].name):
                        job = running.pop(future)
                        exc = future.exception()
                        finish(job, exc)
                        stopped = stopped or exc is not None
                        if progress is not None:
                            count = len(report.succeeded) + len(report.failed)
                            progress(count, total, job[-1])
            except KeyboardInterrupt:
                stopped = True
                report.interrupted = True
                # Let in-flight requests finish: each either happened or did not.
                for future, job in running.items():
                    finish(job, future.exception())
                running.clear()
            report.not_started += [c for job in reversed(queue) for c in job]
    # Threads finish in any order; the report lists changes in plan order so it reads the same
    # on every run.
    position = {id(change): index for index, change in enumerate(plan.changes)}
    report.succeeded.sort(key=lambda change: position[id(change)])
    report.failed.sort(key=lambda failure: position[id(failure.change)])
    report.not_started.sort(key=lambda change: position[id(change)])
    return report


def read_state(backend: Backend, desired: DesiredState, *, prune: bool = False) -> ActualState:
    """Every call type, the declared calls and users; with ``prune`` every call."""
    return backend.read(cids=sorted(desired.calls), users=sorted(desired.users), all_calls=prune)


def check_converged(after: Plan) -> None:
    """Raise ApplyFailed when a re-plan after a successful apply still finds changes.

    Terraform calls this an inconsistent result after apply: the backend did not take some field
    as given (e.g. it clamps or ignores a value). Each such field is named.
    """
    if after.empty:
        return
    lines = []
    for change in after.changes:
        if change.fields:
            lines += [
                f"  {change.kind} {change.name}: {fc.path} is {format_value(fc.before)}, "
                f"manifest says {format_value(fc.after)}"
                for fc in change.fields
            ]
        else:
            lines.append(f"  {change.kind} {change.name}: still needs {change.action}")
    raise ApplyFailed(
        "inconsistent result after apply: the backend did not take these as given:\n"
        + "\n".join(lines)
    )
