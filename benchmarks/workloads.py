"""Workloads: the package sets every tool is measured on (see workloads/README.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WORKLOADS_DIR = Path(__file__).resolve().parent / "workloads"
NAMES = ("small", "medium", "large")

# For the multi-env scenario: one extra package per env, outside every workload, with no dependencies.
PYPI_EXTRAS = ("tomli-w==1.2.0", "colorama==0.4.6", "toolz==1.2.0")


def read_requirements(path: Path) -> list[str]:
    """The requirement lines of a requirements file, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@dataclass(frozen=True)
class Workload:
    """One package set: top-level requirements (`.in`) for resolving, exact pins for installing."""

    name: str
    in_file: Path
    pins_file: Path
    extras: tuple[str, ...]  # three exact pins outside `pins`, one per env in the multi-env scenario

    @property
    def inputs(self) -> list[str]:
        return read_requirements(self.in_file)

    @property
    def pins(self) -> list[str]:
        return read_requirements(self.pins_file)


def load_workloads(folder: Path, names: list[str], extras: tuple[str, ...]) -> list[Workload]:
    """The named workloads from `folder` (`NAME.in` and `NAME.pins.txt`), in the order given."""
    found = []
    for name in names:
        in_file, pins_file = folder / f"{name}.in", folder / f"{name}.pins.txt"
        if not in_file.is_file() or not pins_file.is_file():
            raise SystemExit(f"run.py: no workload {name!r} in {folder} (expected {name}.in and {name}.pins.txt)")
        found.append(Workload(name, in_file, pins_file, extras))
    return found
