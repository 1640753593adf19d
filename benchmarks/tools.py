"""The tools under comparison (envsync, uv, pip, pip-tools): where they are, and the commands to run them.

Every tool gets its own cache folder under benchmarks/.work/, the same target
interpreter, and an environment stripped of the machine's own UV_*, PIP_*, ENVSYNC_*
and PYTHON* settings (pip's config files are switched off too), so that runs are
comparable and leave the machine's caches alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import Skipped, Step, StepFailed

REPO_ROOT = Path(__file__).resolve().parent.parent
STRIPPED_PREFIXES = ("UV_", "PIP_", "ENVSYNC_", "PYTHON", "VIRTUAL_ENV", "CONDA_", "PYENV_VERSION")
KEPT = frozenset({"PIP_CERT", "PIP_DEFAULT_TIMEOUT"})  # the machine's TLS set-up, not a behaviour change


def real_executable(name: str) -> Path | None:
    """`name` on PATH, seen through pyenv's shims (a shim is a shell script that would add its own start-up)."""
    found = shutil.which(name)
    if found is None:
        return None
    if f"{os.sep}shims{os.sep}" in found and shutil.which("pyenv"):
        proc = subprocess.run(["pyenv", "which", name], capture_output=True, text=True, check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            return Path(proc.stdout.strip())
    return Path(found)


def clean_environ() -> dict[str, str]:
    """os.environ without the settings that would make one tool behave differently from run to run."""
    env = {k: v for k, v in os.environ.items() if k in KEPT or not k.startswith(STRIPPED_PREFIXES)}
    env.update({
        "NO_COLOR": "1",
        "PIP_CONFIG_FILE": os.devnull,  # no /etc/pip.conf extra indexes or find-links
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    })
    return env


def version_of(argv: Sequence[str], cwd: Path = REPO_ROOT) -> str:
    """The first line a `--version` style command prints, or why it could not run."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=120,
                              env=clean_environ(), cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else f"unavailable (exit {proc.returncode})"


def toml_list(items: Sequence[str]) -> str:
    """A TOML array of strings, one per line (JSON string syntax is valid TOML here)."""
    return "[\n" + "".join(f"    {json.dumps(item)},\n" for item in items) + "]"


def write_envs_toml(folder: Path, python: Path, envs: Mapping[str, Sequence[str]],
                    environments: Sequence[str] = ()) -> Path:
    """An envs.toml declaring `envs` (name -> dependencies), every env on `python`, each locked for the
    platforms `environments` names (none: for this machine only)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = f'[settings]\npython = {json.dumps(str(python))}\nroot = ".envs"\n'
    if environments:
        text += f"environments = {toml_list(environments)}\n"
    for name, deps in envs.items():
        text += f"\n[envs.{name}]\ndependencies = {toml_list(deps)}\n"
    path = folder / "envs.toml"
    path.write_text(text)
    return path


def write_uv_project(folder: Path, deps: Sequence[str], python: Path) -> Path:
    """A virtual (not packaged) uv project whose dependencies are `deps`."""
    folder.mkdir(parents=True, exist_ok=True)
    minor = python_minor(python)
    text = (
        '[project]\nname = "envsync-bench"\nversion = "0"\n'
        f'requires-python = ">={minor}"\ndependencies = {toml_list(deps)}\n\n'
        "[tool.uv]\npackage = false\n"
    )
    path = folder / "pyproject.toml"
    path.write_text(text)
    return path


def python_minor(python: Path) -> str:
    """`python`'s version as MAJOR.MINOR ("3.11")."""
    return version_of([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def remove(path: Path) -> None:
    """Delete a folder or file if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def set_aside(path: Path, trash: Path) -> None:
    """Move `path` into `trash` (a folder on the same disk) instead of deleting it right before a
    timed run. On a disk mounted with `discard` (this machine's ext4), the blocks a big delete frees
    are trimmed while the next run makes its folders, and every `mkdir` then waits: the figures
    measured the last delete more than the tool. `trash` is emptied between scenarios, untimed."""
    if path.exists() or path.is_symlink():
        trash.mkdir(parents=True, exist_ok=True)
        path.rename(trash / f"{sum(1 for _ in trash.iterdir())}-{path.name}")


def empty_set_aside(trash: Path) -> None:
    """Delete what `set_aside` moved into `trash`: with `rm -rf`, several times faster than
    shutil.rmtree on the hundreds of venvs a scale-envs run leaves."""
    if trash.exists():
        subprocess.run(["rm", "-rf", "--", str(trash)], check=True)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@dataclass(frozen=True)
class Toolchain:
    """Where every tool is, which interpreter every venv is made from, and where the caches live."""

    python: Path  # the interpreter every venv is built with, for every tool
    envsync: tuple[str, ...]  # argv prefix that runs envsync
    envsync_cwd: Path  # where envsync runs from: the repository, or a snapshot of one commit (--envsync-ref)
    uv: Path | None
    pip_tools_bin: Path | None  # bin folder holding pip-sync and pip-compile, or None to skip them
    cache_root: Path
    index_url: str | None = None  # None: PyPI

    # -- environments -----------------------------------------------------------------

    def cache(self, tool: str) -> Path:
        return self.cache_root / tool

    def env_envsync(self, cache: Path | None = None) -> dict[str, str]:
        env = clean_environ()
        env["ENVSYNC_CACHE_DIR"] = str(cache or self.cache("envsync"))
        if self.index_url:
            env["ENVSYNC_INDEX_URL"] = self.index_url
        return env

    def env_uv(self, cache: Path | None = None) -> dict[str, str]:
        env = clean_environ()
        env["UV_CACHE_DIR"] = str(cache or self.cache("uv"))
        env["UV_PYTHON"] = str(self.python)
        if self.index_url:
            env["UV_DEFAULT_INDEX"] = self.index_url
        return env

    def env_pip(self, cache: Path | None = None) -> dict[str, str]:
        env = clean_environ()
        env["PIP_CACHE_DIR"] = str(cache or self.cache("pip"))
        if self.index_url:
            env["PIP_INDEX_URL"] = self.index_url
        return env

    # -- commands ---------------------------------------------------------------------

    def envsync_step(self, command: str, config: Path, *args: str, cache: Path | None = None,
                     ok_codes: tuple[int, ...] = (0,)) -> Step:
        """`envsync COMMAND -c CONFIG ARGS`, run from the repository root (`-c` after the command)."""
        argv = (*self.envsync, command, "-c", str(config), *args)
        return Step(argv, self.env_envsync(cache), self.envsync_cwd, ok_codes)

    def uv_step(self, *args: str, cwd: Path, cache: Path | None = None) -> Step:
        if self.uv is None:
            raise StepFailed("uv", "uv was not found on PATH")
        return Step((str(self.uv), *args), self.env_uv(cache), cwd)

    def uv_venv_sync(self, venv: Path, pins: Path, cache: Path | None = None) -> list[Step]:
        """`uv venv VENV && uv pip sync --python VENV/bin/python PINS`."""
        venv.parent.mkdir(parents=True, exist_ok=True)
        return [
            self.uv_step("venv", "-q", str(venv), cwd=venv.parent, cache=cache),
            self.uv_step("pip", "sync", "-q", "--python", str(venv_python(venv)), str(pins),
                         cwd=venv.parent, cache=cache),
        ]

    def pip_venv_uv_install(self, venv: Path, pins: Path) -> list[Step]:
        """pip-sync's target: a venv with pip in it (`python -m venv`, no index needed), the pins installed by uv."""
        venv.parent.mkdir(parents=True, exist_ok=True)
        return [
            Step((str(self.python), "-m", "venv", str(venv)), self.env_pip(), venv.parent),
            self.uv_step("pip", "install", "-q", "--python", str(venv_python(venv)), "-r", str(pins), cwd=venv.parent),
        ]

    def pip_venv_install(self, venv: Path, requirements: Path, cache: Path | None = None) -> list[Step]:
        """`python -m venv VENV && VENV/bin/python -m pip install -r REQUIREMENTS`."""
        venv.parent.mkdir(parents=True, exist_ok=True)
        env = self.env_pip(cache)
        return [
            Step((str(self.python), "-m", "venv", str(venv)), env, venv.parent),
            Step((str(venv_python(venv)), "-m", "pip", "install", "-q", "-r", str(requirements)), env, venv.parent),
        ]

    def pip_tool(self, name: str) -> Path:
        if self.pip_tools_bin is None:
            raise Skipped(name, "pip-tools is not installed (see the notes above)")
        return self.pip_tools_bin / name

    def pip_sync_step(self, venv: Path, pins: Path) -> Step:
        argv = (str(self.pip_tool("pip-sync")), "-q", "--python-executable", str(venv_python(venv)), str(pins))
        return Step(argv, self.env_pip(), venv.parent)

    def pip_compile_step(self, infile: Path, output: Path, cache: Path | None = None) -> Step:
        """`pip-compile --upgrade`, with its own cache and pip's in `cache` (default: the warm ones)."""
        pip_cache = cache / "pip" if cache else self.cache("pip")
        tools_cache = cache / "pip-tools" if cache else self.cache("pip-tools")
        argv = (str(self.pip_tool("pip-compile")), "-q", "--upgrade", "--no-header", "--cache-dir", str(tools_cache),
                "--output-file", str(output), str(infile))
        return Step(argv, self.env_pip(pip_cache), output.parent)


def find_python(requested: str | None) -> Path:
    """The interpreter every venv is made from: --python, else python3.11, else this one."""
    if requested:
        path = Path(requested)
        return path if path.is_absolute() else (real_executable(requested) or path)
    return real_executable("python3.11") or Path(sys.executable)


def install_pip_tools(python: Path, folder: Path, cache: Path, offline: bool) -> tuple[Path | None, str]:
    """A venv with pip-tools in `folder` (made once, reused after); (bin folder or None, a note)."""
    bin_dir = folder / "bin"
    if (bin_dir / "pip-compile").exists() and (bin_dir / "pip-sync").exists():
        return bin_dir, f"pip-tools: {version_of([str(bin_dir / 'pip-compile'), '--version'])}"
    if offline:
        return None, "pip-tools: skipped (not installed in benchmarks/.work/tools, and --offline)"
    env = {**clean_environ(), "PIP_CACHE_DIR": str(cache)}
    for argv in ([str(python), "-m", "venv", str(folder)],
                 [str(bin_dir / "python"), "-m", "pip", "install", "-q", "-U", "pip", "pip-tools"]):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None, f"pip-tools: skipped, it could not be installed: {proc.stderr.strip()[-300:]}"
    return bin_dir, f"pip-tools: {version_of([str(bin_dir / 'pip-compile'), '--version'])}"
