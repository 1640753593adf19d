"""Print every runtime dependency of pyproject.toml pinned to its floor: `name>=X` becomes `name==X`.

CI installs these and runs tests against them, so a floor that the code has outgrown
fails CI instead of a user's install. A dependency without a `>=` floor is an error:
every floor must be written, or it cannot be tested.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*>=\s*([0-9][0-9A-Za-z.+!-]*)\s*$")


def floors(pyproject: Path) -> list[str]:
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = []
    for text in dependencies:
        match = FLOOR.match(text)
        if match is None:
            raise SystemExit(f"{pyproject}: dependency {text!r} is not of the form 'name>=version' "
                             "(a plain floor, which CI tests at exactly that version)")
        pins.append(f"{match[1]}=={match[2]}")
    return pins


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    print("\n".join(floors(root / "pyproject.toml")))
