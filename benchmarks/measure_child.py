"""Run a sequence of commands and report their wall-clock time and peak RSS as JSON.

The harness starts this script as a fresh child process for every measurement, so
that `getrusage(RUSAGE_CHILDREN).ru_maxrss` covers only the commands measured here
(and the processes they waited for), never an earlier measurement. The timer runs in
here too, around the commands alone, so this process's own start-up is not counted.

Input on stdin: {"timeout": seconds, "steps": [{"argv": [...], "cwd": "...", "env": {...},
"ok_codes": [0]}]}. Output on stdout: {"seconds": float, "maxrss_kb": int} on success, or
{"command": "...", "error": "..."} for the first step that failed. Standard library only.
"""

from __future__ import annotations

import json
import resource
import shlex
import subprocess
import sys
import time
from typing import Any

TAIL_LINES = 15


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last `lines` non-empty lines of `text`."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run_step(step: dict[str, Any], timeout: float) -> dict[str, str] | None:
    """Run one step; None when it succeeded, else a failure report."""
    command = shlex.join(step["argv"])
    try:
        proc = subprocess.run(
            step["argv"],
            cwd=step["cwd"],
            env=step["env"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = exc.stderr or exc.stdout or ""
        text = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
        return {"command": command, "error": f"timed out after {timeout:.0f}s\n{tail(text)}"}
    except OSError as exc:
        return {"command": command, "error": f"could not start: {exc}"}
    if proc.returncode not in step.get("ok_codes", [0]):
        output = tail(proc.stderr) or tail(proc.stdout) or "(no output)"
        return {"command": command, "error": f"exit code {proc.returncode}\n{output}"}
    return None


def main() -> int:
    spec = json.load(sys.stdin)
    start = time.perf_counter()
    for step in spec["steps"]:
        failure = run_step(step, float(spec["timeout"]))
        if failure is not None:
            print(json.dumps(failure))
            return 0
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"seconds": seconds, "maxrss_kb": peak_kb}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
