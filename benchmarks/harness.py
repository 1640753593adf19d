"""Measure commands: each measurement runs in a fresh child process (measure_child.py).

A failed command never stops the suite. It becomes a `StepFailed`, which `bench`
records in its `Row` (with the tail of the command's stderr) for the report to show.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHILD = Path(__file__).resolve().with_name("measure_child.py")


@dataclass(frozen=True)
class Step:
    """One command: its arguments, environment and working folder."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    ok_codes: tuple[int, ...] = (0,)

    def to_json(self) -> dict[str, Any]:
        return {"argv": list(self.argv), "env": dict(self.env), "cwd": str(self.cwd), "ok_codes": list(self.ok_codes)}


@dataclass(frozen=True)
class Sample:
    """One measurement: wall-clock seconds of all its steps, and the peak RSS of any of them."""

    seconds: float
    peak_rss_kb: int


class StepFailed(Exception):
    """A command exited with an unexpected code, timed out, or could not start."""

    def __init__(self, command: str, detail: str) -> None:
        super().__init__(f"{command}: {detail}")
        self.command = command
        self.detail = detail

    @property
    def summary(self) -> str:
        """One line: the last line of the detail (usually the error message)."""
        lines = [line.strip() for line in self.detail.splitlines() if line.strip()]
        return lines[-1] if lines else "failed"


class Skipped(StepFailed):
    """A tool that is not available here (pip-tools offline, for example): the row says so, no failure."""


def run_steps(steps: Sequence[Step], timeout: float) -> Sample:
    """Run `steps` one after another in a fresh child process; raise StepFailed on the first failure."""
    payload = json.dumps({"timeout": timeout, "steps": [step.to_json() for step in steps]})
    proc = subprocess.run(
        [sys.executable, "-I", str(CHILD)], input=payload, capture_output=True, text=True, check=False
    )
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise StepFailed("measure_child.py", f"harness child failed:\n{proc.stderr[-2000:]}") from None
    if "error" in result:
        raise StepFailed(result["command"], result["error"])
    return Sample(float(result["seconds"]), int(result["maxrss_kb"]))


class Once:
    """Run a setup function at most once. A failure is remembered and raised again to every caller."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action
        self._done = False
        self._failure: StepFailed | None = None

    def __call__(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._done:
            return
        try:
            self._action()
        except Skipped as skipped:
            self._failure = skipped
            raise
        except StepFailed as failure:
            self._failure = StepFailed(failure.command, f"(during setup)\n{failure.detail}")
            raise self._failure from None
        self._done = True


@dataclass
class Row:
    """One tool's measurements on one workload, or the failure that stopped them."""

    label: str
    workload: str
    samples: list[Sample] = field(default_factory=list)
    failure: StepFailed | None = None
    # ratio column title -> label of the baseline row (same workload) to divide by
    ratios: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def skipped(self) -> bool:
        return isinstance(self.failure, Skipped)

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def minimum(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def peak_rss_mb(self) -> float:
        return max(s.peak_rss_kb for s in self.samples) / 1024


Logger = Callable[[str], None]


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Bench:
    """How to measure one row: optional one-time setup, per-repeat preparation, the timed steps."""

    label: str
    steps: Callable[[], Sequence[Step]]
    prepare: Callable[[], None] | None = None  # untimed, before every repeat
    setup: Callable[[], None] | None = None  # untimed, once (share a `Once` between rows)
    ratios: dict[str, str] = field(default_factory=dict)
    repeat: int | None = None  # None: the suite's --repeat
    note: str = ""


def bench(spec: Bench, workload: str, repeat: int, timeout: float, log: Logger = log_to_stderr) -> Row:
    """Measure `spec` `repeat` times; a failure ends the row and is recorded in it."""
    row = Row(spec.label, workload, ratios=dict(spec.ratios), note=spec.note)
    count = spec.repeat or repeat
    try:
        if spec.setup is not None:
            spec.setup()
        for index in range(count):
            if spec.prepare is not None:
                spec.prepare()
            sample = run_steps(spec.steps(), timeout)
            row.samples.append(sample)
            log(f"  {workload:>6} | {spec.label}: run {index + 1}/{count} {sample.seconds:.3f}s "
                f"{sample.peak_rss_kb / 1024:.0f} MB")
    except OSError as exc:  # preparing (deleting a venv, making a folder) failed
        row.failure = StepFailed("(harness preparation)", f"{type(exc).__name__}: {exc}")
    except StepFailed as failure:
        row.failure = failure
    if row.failure is not None:
        outcome = "skipped" if row.skipped else "FAILED"
        log(f"  {workload:>6} | {spec.label}: {outcome}: {row.failure.summary}")
    return row
