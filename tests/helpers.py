"""Plain helpers for integration tests: run the CLI, make and inspect venvs, write configs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Run by the venv's own interpreter (3.8+), isolated from PYTHONPATH and user site-packages.
_INSTALLED_SCRIPT = """
import importlib.metadata, json, re
found = {}
for dist in importlib.metadata.distributions():
    name = dist.metadata["Name"]
    if name:
        found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
print(json.dumps(found))
"""


def run_envsync(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m envsync ARGS` from the working tree, capturing text output."""
    merged = {**os.environ, **(env or {})}
    existing = merged.get("PYTHONPATH")
    merged["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *([existing] if existing else [])])
    return subprocess.run(
        [sys.executable, "-m", "envsync", *args],
        cwd=cwd,
        env=merged,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def installed(venv: Path) -> dict[str, str]:
    """Normalised name -> version of every distribution the venv's own interpreter sees."""
    result = subprocess.run(
        [str(venv_python(venv)), "-I", "-c", _INSTALLED_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


def make_venv(path: Path, python: str = sys.executable) -> Path:
    """A plain venv without pip, as another tool would leave it."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    return path


def write_config(directory: Path, text: str) -> Path:
    """Write `text` (dedented) as `directory/envs.toml` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "envs.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def python_path(version: str) -> str | None:
    """The newest pyenv CPython `version` (e.g. "3.12") on this machine, or None."""
    versions = Path.home() / ".pyenv" / "versions"
    pattern = re.compile(rf"{re.escape(version)}\.(\d+)")
    candidates = [
        (int(match.group(1)), entry)
        for entry in (versions.iterdir() if versions.is_dir() else [])
        if (match := pattern.fullmatch(entry.name))
    ]
    for _, entry in sorted(candidates, reverse=True):
        for exe in (entry / "bin" / f"python{version}", entry / "bin" / "python"):
            if exe.is_file() and os.access(exe, os.X_OK):
                return str(exe)
    return None


def client_for(clients: list, url: str, transport: object | None = None):
    """An IndexClient for `url` (over `transport` if given), closed by the `clients` fixture."""
    from envsync.model import IndexSettings
    from envsync.resolve.http import make_client
    from envsync.resolve.index import IndexClient

    client = IndexClient(IndexSettings(index_url=url), client=make_client(transport) if transport else None)
    clients.append(client)
    return client


def two_pythons() -> tuple[str, str]:
    """Two CPython minor versions installed under ~/.pyenv/versions, older first (skips the test without)."""
    import pytest

    found = [version for version in ("3.10", "3.11", "3.12", "3.13") if python_path(version)]
    if len(found) < 2:
        pytest.skip("needs two of CPython 3.10-3.13 under ~/.pyenv/versions")
    return found[0], found[-1]


def commit_everything(folder: Path) -> None:
    """`git init` (when needed), then commit every file in `folder`, as a fixed test author."""
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
                       cwd=folder, capture_output=True, check=True, timeout=60)


def assert_config_refused(folder: Path, text: str, message: str) -> None:
    """A config of `text` is refused, by `load` and by `envsync plan` (exit 1, no traceback), with `message`."""
    import pytest

    from envsync.config.load import load
    from envsync.errors import ConfigError

    path = write_config(folder, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert message in str(caught.value)
    result = run_envsync("plan", cwd=folder)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
