"""Compile a rules folder in a throwaway process before the server loads it.

durable-rules' C core can crash or hang on a rule set that passes validation
(shared/DURABLE_RULES.md); in a child process with a timeout that is a rejected
change, not a dead server. The child compiles the folder, matches one fact of
every subject, and reports the version it compiled or the errors it found.

Children are forked from a fork server that has imported the engine once, so a
probe costs milliseconds rather than an interpreter start, and a reload lands
well within two seconds even under load.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from engine.errors import RuleError, RuleSetInvalid

DEFAULT_TIMEOUT_SECONDS = 30.0
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["engine.ruleset.live"])

Report = dict[str, object]


def start_fork_server() -> None:
    """Start the fork server now, so the first reload does not pay for importing the engine."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


def probe_folder(folder: Path, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> str:
    """The version the child compiled; raises RuleSetInvalid if compiling `folder` fails, crashes or hangs."""
    report = run_in_child(compile_and_exercise, folder, timeout)
    if "errors" in report:
        raise RuleSetInvalid([RuleError(**error) for error in report["errors"]])  # type: ignore[attr-defined]
    return str(report["version"])


def run_in_child(work: Callable[[Path], Report], folder: Path, timeout: float) -> Report:
    """`work(folder)` in a forked child; its crash or hang becomes a RuleSetInvalid."""
    receiving, sending = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(work, str(folder), sending), name="rules-probe", daemon=True)
    child.start()
    sending.close()
    try:
        if not receiving.poll(timeout):
            child.kill()
            raise _refused(folder, "engine-hung", f"compiling the rules did not finish within {timeout:g} s")
        try:
            report: Report = receiving.recv()
        except EOFError:
            child.join()
            how = f"signal {-child.exitcode}" if (child.exitcode or 0) < 0 else f"exit code {child.exitcode}"
            raise _refused(folder, "engine-crashed", f"compiling the rules crashed the rule engine ({how})") from None
        return report
    finally:
        child.join()
        receiving.close()


def _child(work: Callable[[Path], Report], folder: str, sending: Connection) -> None:
    sending.send(work(Path(folder)))
    sending.close()


def _refused(folder: Path, code: str, message: str) -> RuleSetInvalid:
    return RuleSetInvalid([RuleError(str(folder), 1, 1, code, message)])


def _smoke_facts() -> list[dict[str, object]]:
    """One fact per subject with every known field set, so each pattern meets real data."""
    from engine.features.fields import FIELDS, SUBJECTS

    fields: dict[str, dict[str, object]] = {}
    for spec in FIELDS.values():
        prefix, name = spec.name.split(".", 1)
        fields.setdefault(prefix, {})[name] = 0 if spec.type == "number" else ""
    shared = {prefix: values for prefix, values in fields.items() if prefix not in SUBJECTS or prefix == "customer"}
    return [
        {"id": f"smoke:{subject}", "subject": subject, **shared, subject: fields.get(subject, {})}
        for subject in SUBJECTS
    ]


def compile_and_exercise(folder: Path) -> Report:
    """What the child does: compile, match the smoke facts, report."""
    from engine.ruleset.live import compile_folder

    try:
        ruleset, matcher = compile_folder(folder)
    except RuleSetInvalid as exc:
        return {"errors": [error.__dict__ for error in exc.errors]}
    try:
        matcher.match(_smoke_facts())
    finally:
        matcher.close()
    return {"version": ruleset.version}
