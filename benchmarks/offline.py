"""--offline: a synthetic package universe served by a real PEP 691 index on 127.0.0.1.

Thirty-odd small wheels, two versions each, in four layers (leaves, mids, tops and
the multi-env extras), built with tests/wheelfactory.py and served by
tests/localindex.py. The small, medium and large workloads are written as `.in`
(top-level requirements) and `.pins.txt` (the full closure at the newest versions),
just like the real ones, so every scenario runs the same way without the internet.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from tools import REPO_ROOT, write_lines

sys.path.insert(0, str(REPO_ROOT / "tests"))

from localindex import LocalIndex  # noqa: E402 - needs tests/ on the path
from wheelfactory import WheelSpec  # noqa: E402 - needs tests/ on the path

VERSIONS = ("1.0.0", "1.1.0")  # every package has both; the pins take the newest
LEAVES, MIDS, TOPS = 14, 10, 5
WORKLOAD_ROOTS = {
    "small": ["top-01"],
    "medium": ["top-01", "top-02", "top-03"],
    "large": [f"top-{j:02d}" for j in range(1, TOPS + 1)] + ["leaf-13", "leaf-14"],
}
EXTRAS = ("extra-01", "extra-02", "extra-03")


def dependency_graph() -> dict[str, list[str]]:
    """Project name -> names it requires: mids need two leaves, tops need two mids and a leaf."""
    graph: dict[str, list[str]] = {f"leaf-{i:02d}": [] for i in range(1, LEAVES + 1)}
    for i in range(1, MIDS + 1):
        graph[f"mid-{i:02d}"] = [f"leaf-{i:02d}", f"leaf-{(i + 3) % LEAVES + 1:02d}"]
    for j in range(1, TOPS + 1):
        graph[f"top-{j:02d}"] = [f"mid-{2 * j - 1:02d}", f"mid-{2 * j:02d}", f"leaf-{(j + 8) % LEAVES + 1:02d}"]
    graph.update({name: [] for name in EXTRAS})
    return graph


def closure(graph: dict[str, list[str]], roots: list[str]) -> list[str]:
    """Every project `roots` reach, sorted."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return sorted(seen)


def module_source(name: str, version: str) -> str:
    """Some real Python code (about 10 KB), so that installing is more than writing a few bytes."""
    functions = "".join(
        f"def f{n}(x: int) -> int:\n    \"\"\"{name} {version} function {n}.\"\"\"\n    return x * {n} + {len(name)}\n\n\n"
        for n in range(120)
    )
    return f'"""{name} {version}."""\n\n{functions}'


def wheel_spec(name: str, version: str, requires: list[str]) -> WheelSpec:
    module = name.replace("-", "_")
    files: dict[str, bytes | str] = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n\ndef main() -> None:\n    print({name!r})\n",
        f"{module}/core.py": module_source(name, version),
        f"{module}/data/words.txt": "\n".join(f"{name}-{n}" for n in range(500)) + "\n",
    }
    scripts = {name: f"{module}:main"} if name.startswith("top-") else {}
    return WheelSpec(name, version, requires=[f"{dep}>=1.0" for dep in requires], files=files,
                     console_scripts=scripts)


@dataclass
class OfflineUniverse:
    """The running index and the folder holding the synthetic workloads."""

    index: LocalIndex
    workloads_dir: Path
    extras: tuple[str, ...]

    def stop(self) -> None:
        self.index.stop()


def start(folder: Path) -> OfflineUniverse:
    """Build every wheel into `folder`, start the index, and write the workloads beside it."""
    graph = dependency_graph()
    index = LocalIndex(folder / "index")
    for name, requires in graph.items():
        for version in VERSIONS:
            index.add(wheel_spec(name, version, requires))
    workloads_dir = folder / "workloads"
    newest = VERSIONS[-1]
    for workload, roots in WORKLOAD_ROOTS.items():
        write_lines(workloads_dir / f"{workload}.in", roots)
        write_lines(workloads_dir / f"{workload}.pins.txt", [f"{n}=={newest}" for n in closure(graph, roots)])
    index.start()
    return OfflineUniverse(index, workloads_dir, tuple(f"{name}=={newest}" for name in EXTRAS))
