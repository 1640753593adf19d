#!/usr/bin/env python3
"""Save a file as an editor would, then wait until a tool says the env follows it.

    edit_and_wait.py SRC DEST log LOGFILE TEXT   # copy SRC over DEST, wait for a new LOGFILE line holding TEXT
    edit_and_wait.py SRC DEST run CMD [ARGS...]  # copy SRC over DEST, then become CMD (`uv sync` by hand)

Both tools are timed through this same script, so its own start-up weighs on both alike.
Stdlib only; run it with `python -I`.
"""

from __future__ import annotations

import os
import sys
import time

POLL_SECONDS = 0.002
DEADLINE_SECONDS = 120


def main(argv: list[str]) -> int:
    source, dest, mode, *rest = argv
    start = os.path.getsize(rest[0]) if mode == "log" else 0
    with open(source, "rb") as handle:
        data = handle.read()
    with open(dest, "wb") as handle:
        handle.write(data)
    if mode == "run":
        os.execv(rest[0], rest)
    log, text = rest
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        with open(log, encoding="utf-8", errors="replace") as handle:
            handle.seek(start)
            new = handle.read()
        if any(text in line for line in new.splitlines()):
            return 0
        if "envsync: error" in new:
            print(new, file=sys.stderr)
            return 1
        time.sleep(POLL_SECONDS)
    print(f"no line with {text!r} in {log} after {DEADLINE_SECONDS}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
