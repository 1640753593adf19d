"""The build backends' own wheels (setuptools, hatchling and their dependencies) for tests
that build projects: kept in tests/.wheels-cache (git-ignored), downloaded with pip the first
time they are missing, then served from the local test index like any other wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from localindex import LocalIndex
from packaging.utils import parse_wheel_filename

CACHE = Path(__file__).resolve().parent / ".wheels-cache"
BACKENDS = ("setuptools", "hatchling", "editables")  # hatchling asks for editables to build editable


def backend_wheels() -> list[Path] | None:
    """The cached wheels, downloaded once when a backend is missing; None when pip can't get them."""
    def have() -> bool:
        names = {parse_wheel_filename(path.name)[0] for path in CACHE.glob("*.whl")}
        return all(backend in names for backend in BACKENDS)

    if not have():
        CACHE.mkdir(exist_ok=True)
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
                                 "-d", str(CACHE), *BACKENDS], capture_output=True, text=True, check=False,
                                timeout=600)
        if result.returncode != 0 or not have():
            return None
    return sorted(CACHE.glob("*.whl"))


def publish_backends(index: LocalIndex, wheels: list[Path]) -> None:
    for wheel in wheels:
        index.add_file(str(parse_wheel_filename(wheel.name)[0]), wheel)
