"""A tiny in-tree PEP 517 backend (used through `backend-path`) whose version comes from git, as
setuptools-scm's and hatch-vcs's do: `0.1.devN` for the Nth commit. No build dependencies, no
network. `write_project` lays a project using it into a folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

BACKEND = '''
import base64, hashlib, os, subprocess, tomllib, zipfile


def _metadata():
    with open("pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)["project"]
    count = subprocess.run(["git", "rev-list", "--count", "HEAD"], capture_output=True, text=True).stdout.strip()
    version = "0.1.dev" + (count or "0")
    lines = ["Metadata-Version: 2.1", "Name: " + project["name"], "Version: " + version]
    lines += ["Requires-Dist: " + dependency for dependency in project.get("dependencies", [])]
    return project["name"], version, "\\n".join(lines) + "\\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_wheel


def prepare_metadata_for_build_wheel(directory, config_settings=None):
    name, version, metadata = _metadata()
    info = os.path.join(directory, name + "-" + version + ".dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as handle:
        handle.write(metadata)
    return os.path.basename(info)


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def _wheel(directory, files):
    name, version, metadata = _metadata()
    info = name + "-" + version + ".dist-info"
    files = dict(files)
    files[info + "/METADATA"] = metadata
    files[info + "/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: gitver\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    filename = name + "-" + version + "-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(directory, filename), "w") as archive:
        for path, text in files.items():
            data = text.encode()
            archive.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(path + ",sha256=" + digest + "," + str(len(data)))
        record.append(info + "/RECORD,,")
        archive.writestr(info + "/RECORD", "\\n".join(record) + "\\n")
    return filename


def build_wheel(directory, config_settings=None, metadata_directory=None):
    with open("src/gitapp.py") as handle:
        return _wheel(directory, {"gitapp.py": handle.read()})


def build_editable(directory, config_settings=None, metadata_directory=None):
    return _wheel(directory, {"_gitapp.pth": os.path.abspath("src") + "\\n"})
'''


def write_project(folder: Path, dependencies: tuple[str, ...] = ()) -> Path:
    """A project `gitapp` (src/gitapp.py) built by the git-versioned backend in `_backend/`."""
    (folder / "_backend").mkdir(parents=True, exist_ok=True)
    (folder / "_backend" / "gitver.py").write_text(BACKEND)
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "gitapp.py").write_text("VALUE = 1\n")
    deps = ", ".join(f'"{dep}"' for dep in dependencies)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = []
        build-backend = "gitver"
        backend-path = ["_backend"]

        [project]
        name = "gitapp"
        dynamic = ["version"]
        dependencies = [{deps}]
        """))
    return folder
