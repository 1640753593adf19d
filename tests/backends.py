"""The build backends' own wheels (setuptools, hatchling and their dependencies) for tests
that build projects: kept in tests/.wheels-cache (git-ignored), downloaded with pip the first
time they are missing, then served from the local test index like any other wheel."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
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


# -- a tiny in-tree backend ---------------------------------------------------------------
# A PEP 517 backend of a few lines, written into the project (`backend-path = ["."]`, no build
# requirements), for projects whose metadata is dynamic: a version computed from git (as
# setuptools-scm does: the latest tag and the commits since, a stand-in from
# SETUPTOOLS_SCM_PRETEND_VERSION outside a git checkout) and dependencies read from a file.

TINY_BACKEND = r'''
import base64, hashlib, os, subprocess, tomllib, zipfile

def _project():
    with open("pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]

def _version(project):
    if "version" not in project.get("dynamic", []):
        return project["version"]
    described = subprocess.run(["git", "describe", "--tags", "--long", "--always"], capture_output=True,
                               text=True).stdout.strip()
    if not described or not os.path.exists(".git"):
        return os.environ.get("SETUPTOOLS_SCM_PRETEND_VERSION", "0")
    if described.count("-") < 2:  # no tag yet: one more dev release with every commit
        count = subprocess.run(["git", "rev-list", "--count", "HEAD"], capture_output=True, text=True).stdout
        return f"0.dev{count.strip()}+g{described}"
    tag, distance, node = described.rsplit("-", 2)
    return tag.lstrip("v") if distance == "0" else f"{tag.lstrip('v')}.post{distance}+{node}"

def _dependencies(project):
    if "dependencies" not in project.get("dynamic", []):
        return project.get("dependencies", [])
    with open("pyproject.toml", "rb") as file:  # where setuptools reads them from, too
        (name,) = tomllib.load(file)["tool"]["setuptools"]["dynamic"]["dependencies"]["file"]
    with open(name) as file:
        return [line.strip() for line in file if line.strip() and not line.startswith("#")]

def _metadata():
    project = _project()
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {_version(project)}"]
    lines += [f"Requires-Dist: {text}" for text in _dependencies(project)]
    for extra, texts in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {text}; extra == "{extra}"' for text in texts]
    return project["name"].replace("-", "_"), _version(project), "\n".join(lines) + "\n"

def _dist_info(name, version):
    return f"{name}-{version}.dist-info"

def get_requires_for_build_wheel(config_settings=None):
    return []

get_requires_for_build_editable = get_requires_for_build_wheel

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version, metadata = _metadata()
    folder = os.path.join(metadata_directory, _dist_info(name, version))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "METADATA"), "w") as file:
        file.write(metadata)
    return _dist_info(name, version)

prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel

def _wheel(directory, files):
    name, version, metadata = _metadata()
    info = _dist_info(name, version)
    files = {**files, f"{info}/METADATA": metadata,
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tiny\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return filename

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = _metadata()[0]
    return _wheel(wheel_directory, {f"{name}/__init__.py": "built = True\n"})

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name = _metadata()[0]
    return _wheel(wheel_directory, {f"_{name}_editable.pth": os.path.abspath("src") + "\n"})
'''


def write_tiny_project(folder: Path, name: str, *, version: str | None = "1.0",
                       dependencies: Sequence[str] | None = (),
                       extras: dict[str, list[str]] | None = None) -> Path:
    """A project built by TINY_BACKEND: `version=None` computes it from git, `dependencies=None`
    reads them from requirements.in (`dynamic = ["dependencies"]`, the file named as setuptools
    names it); `extras` are its optional dependencies (plain requirements, no markers)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_tiny_backend.py").write_text(TINY_BACKEND)
    (folder / "src" / name.replace("-", "_")).mkdir(parents=True, exist_ok=True)
    (folder / "src" / name.replace("-", "_") / "__init__.py").write_text("editable = True\n")
    dynamic = [field for field, value in (("version", version), ("dependencies", dependencies)) if value is None]
    lines = ['[build-system]', 'requires = []', 'build-backend = "_tiny_backend"', 'backend-path = ["."]', '',
             '[project]', f'name = "{name}"', f'dynamic = {json.dumps(dynamic)}']
    if version is not None:
        lines.append(f'version = "{version}"')
    if dependencies is not None:
        lines.append(f"dependencies = {json.dumps(list(dependencies))}")
    if extras:
        lines += ["", "[project.optional-dependencies]", *(f"{extra} = {json.dumps(texts)}"
                                                           for extra, texts in extras.items())]
    if dependencies is None:
        lines += ["", "[tool.setuptools.dynamic]", 'dependencies = { file = ["requirements.in"] }']
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder
