"""Create, recreate and remove virtual environments atomically: build aside, then rename into place."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import envsync
from envsync.errors import EnvPathError
from envsync.model import Interpreter
from envsync.state.survey import OWNER_KEY, read_pyvenv_cfg
from envsync.state.venv_contents import GITIGNORE, ignores_everything, strangers

_STAGING = ".envsync-tmp-"  # a venv being built: .<name>.envsync-tmp-<hex>
_TRASH = ".envsync-trash-"  # an old venv being deleted: .<name>.envsync-trash-<hex>
_STALE_STAGING_SECONDS = 3600  # a build older than this was interrupted, not running
_NOT_A_VENV = "envsync never deletes or rewrites a folder that is not a virtual environment"


def is_venv(path: Path) -> bool:
    """Whether `path` is a virtual environment (it holds a pyvenv.cfg)."""
    return (Path(path) / "pyvenv.cfg").is_file()


def create_venv(path: Path, interpreter: Interpreter, *, prompt: str | None = None, owner: str | None = None) -> None:
    """Make a new venv at `path` (which must not exist) from `interpreter`, atomically.

    `owner` (the envs.toml that declares it) is written into pyvenv.cfg, so that only that
    config ever offers to remove the env once it is no longer declared.
    """
    path = Path(os.path.abspath(path))
    if os.path.lexists(path):
        raise EnvPathError(
            f"Cannot create a virtual environment at {path}: something is already there.",
            hint="recreate it if it is a venv, or choose another `path` for this env",
        )
    _sweep_leftovers(path)
    staged = _build_aside(path, interpreter, prompt, owner)
    try:
        os.rename(staged, path)
    except OSError as error:
        _rmtree(staged)
        raise EnvPathError(
            f"Cannot move the new virtual environment into {path}: {error.strerror}.",
            hint=f"check that {path.parent} is writable and that nothing else created {path} meanwhile",
        ) from error


def recreate_venv(path: Path, interpreter: Interpreter, *, prompt: str | None = None,
                  owner: str | None = None) -> None:
    """Replace the venv at `path` by a new one from `interpreter`; the old one goes only once the new is in place.

    A missing `path` is simply created, so an interrupted recreate can be repeated.
    """
    path = Path(os.path.abspath(path))
    if not os.path.lexists(path):
        create_venv(path, interpreter, prompt=prompt, owner=owner)
        return
    _refuse_unless_venv(path, "replace")
    adopted = "envsync" not in read_pyvenv_cfg(path)
    _sweep_leftovers(path)
    if adopted:  # made by someone else: the new one stays theirs, and no file of ours appears in it
        staged = _build_aside(path, interpreter, prompt, None, mark=False, gitignore=_read_or_none(path / ".gitignore"))
    else:
        staged = _build_aside(path, interpreter, prompt, owner)
    trash = _unused_sibling(path, _TRASH)
    try:
        os.rename(path, trash)
    except OSError as error:
        _rmtree(staged)
        raise EnvPathError(
            f"Cannot move the old virtual environment at {path} aside: {error.strerror}.",
            hint=f"check that {path.parent} is writable",
        ) from error
    try:
        os.rename(staged, path)
    except BaseException:
        os.rename(trash, path)  # put the old one back: the env stays as it was
        _rmtree(staged)
        raise
    _rmtree(trash)


def remove_venv(path: Path) -> None:
    """Delete the venv at `path`; refuse anything that is not a venv. A missing `path` is already removed."""
    path = Path(os.path.abspath(path))
    if not os.path.lexists(path):
        return
    _refuse_unless_venv(path, "remove")
    trash = _unused_sibling(path, _TRASH)
    try:
        os.rename(path, trash)  # gone from its path in one step, however long the deletion takes
    except OSError as error:
        raise EnvPathError(
            f"Cannot remove the virtual environment at {path}: {error.strerror}.",
            hint=f"check that {path.parent} is writable",
        ) from error
    _rmtree(trash)
    _sweep_leftovers(path)


def _refuse_unless_venv(path: Path, verb: str) -> None:
    """Refuse a link, a folder that is not a venv, and a venv folder holding anything that is not
    the venv's (a project adopted with `path = "."`): only a venv and nothing else is replaced."""
    if path.is_symlink():
        raise EnvPathError(
            f"Refusing to {verb} {path}: it is a symbolic link, and envsync does not act through links.",
            hint="point the env's `path` at the environment itself, or remove the link",
        )
    if not is_venv(path):
        raise EnvPathError(
            f"Refusing to {verb} {path}: it is not a virtual environment (no pyvenv.cfg), and {_NOT_A_VENV}.",
            hint="move that folder away, or give this env another `path`",
        )
    found = strangers(path)
    if found:
        shown = ", ".join(str(item) for item in found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        raise EnvPathError(
            f"Refusing to {verb} {path}: {shown} {'is' if len(found) == 1 else 'are'} not part of the venv, "
            f"and envsync never deletes what is not.",
            hint="move them out of the venv's folder, or give this env a `path` of its own",
        )


# -- building aside -----------------------------------------------------------------------


def _build_aside(path: Path, interpreter: Interpreter, prompt: str | None, owner: str | None = None, *,
                 mark: bool = True, gitignore: bytes | None = GITIGNORE) -> Path:
    """A complete venv in a hidden sibling of `path`, already pointing at `path`; removed on any failure.

    `mark` records envsync (and `owner`) in its pyvenv.cfg. `gitignore` is the .gitignore it
    gets, None for none: every Python's venv is then alike, whatever its `venv` module writes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = _make_staging_dir(path)
    try:
        _run_venv(interpreter, staged, path, prompt or path.name)
        _retarget(staged, path)
        if mark:
            _mark_as_ours(staged, owner)
        _set_gitignore(staged, gitignore)
    except BaseException:
        _rmtree(staged)
        raise
    return staged


def _make_staging_dir(path: Path) -> Path:
    while True:
        staged = _unused_sibling(path, _STAGING)
        try:
            staged.mkdir()  # not mkdtemp: the venv should get the usual permissions, not 0700
            return staged
        except FileExistsError:
            continue


def _unused_sibling(path: Path, tag: str) -> Path:
    while True:
        sibling = path.parent / f".{path.name}{tag}{secrets.token_hex(4)}"
        if not os.path.lexists(sibling):
            return sibling


def _run_venv(interpreter: Interpreter, staged: Path, path: Path, prompt: str) -> None:
    """Fill `staged` with a venv for `path`: a copy of this interpreter's template, retargeted.

    The template is made once per interpreter by the interpreter's own `venv` module,
    so every Python version gets exactly the files (activate scripts, links, pyvenv.cfg)
    it would make itself; copying it costs a few file writes instead of a process.
    """
    template = _template_for(interpreter)
    shutil.copytree(template, staged, symlinks=True, dirs_exist_ok=True)
    old_path, new_path = os.fsencode(template), os.fsencode(path)
    old_prompt, new_prompt = _TEMPLATE_PROMPT.encode(), prompt.encode()
    for file in [staged / "pyvenv.cfg", *sorted((staged / "bin").iterdir())]:
        if file.is_symlink() or not file.is_file():
            continue
        data = file.read_bytes()
        if b"\0" not in data and (old_path in data or old_prompt in data):
            file.write_bytes(data.replace(old_path, new_path).replace(old_prompt, new_prompt))


_TEMPLATE_PROMPT = "envsync-template-prompt"


def _template_for(interpreter: Interpreter) -> Path:
    """The cached template venv of `interpreter`, made by `python -m venv` on first use."""
    import hashlib

    from envsync.files.cache import cache_subdir

    key = hashlib.sha256(f"{interpreter.executable}\0{interpreter.version}".encode()).hexdigest()[:24]
    folder = cache_subdir("venv-templates")
    template = folder / key
    if (template / "pyvenv.cfg").is_file():
        return template
    staged = _make_staging_dir(template)
    try:
        _python_m_venv(interpreter, staged, template, _TEMPLATE_PROMPT)
        _retarget(staged, template)
        try:
            os.rename(staged, template)
        except OSError:
            _rmtree(staged)  # another run made it first: theirs is as good as ours
    except BaseException:
        _rmtree(staged)
        raise
    return template


def _python_m_venv(interpreter: Interpreter, staged: Path, path: Path, prompt: str) -> None:
    command = [str(interpreter.executable), "-I", "-m", "venv", "--without-pip", "--prompt", prompt, str(staged)]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as error:
        stderr = getattr(error, "stderr", None) or str(error)
        raise EnvPathError(
            f"Could not create a virtual environment at {path} with {interpreter.executable}: "
            f"{stderr.strip().splitlines()[-1] if stderr.strip() else error}",
            hint=f"check that `{interpreter.executable} -m venv --help` works and that {path.parent} is writable",
        ) from error


def _retarget(staged: Path, path: Path) -> None:
    """Make activation scripts (and pyvenv.cfg's `command`) name the final path, not the staging one."""
    old, new = os.fsencode(staged), os.fsencode(path)
    files = [staged / "pyvenv.cfg"]
    for folder in ("bin", "Scripts"):
        if (staged / folder).is_dir():
            files.extend(sorted((staged / folder).iterdir()))
    for file in files:
        if file.is_symlink() or not file.is_file():
            continue
        data = file.read_bytes()
        if old in data and b"\0" not in data:  # text files only
            file.write_bytes(data.replace(old, new))


def _set_gitignore(staged: Path, content: bytes | None) -> None:
    """Give the venv exactly `content` as its .gitignore (None: no .gitignore)."""
    target = staged / ".gitignore"
    if content is None:
        if os.path.lexists(target):
            target.unlink()
        return
    if os.path.lexists(target) and ignores_everything(target.read_bytes()):
        return  # Python 3.13's own: it says the same
    target.write_bytes(content)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _mark_as_ours(staged: Path, owner: str | None) -> None:
    cfg = staged / "pyvenv.cfg"
    text = cfg.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    text += f"envsync = {envsync.__version__}\n"
    if owner:
        text += f"{OWNER_KEY} = {owner}\n"
    cfg.write_text(text, encoding="utf-8")


# -- removing -----------------------------------------------------------------------------


def _sweep_leftovers(path: Path) -> None:
    """Delete what interrupted runs left beside `path`: old venvs in the trash, long-dead builds."""
    pattern = re.compile(re.escape(f".{path.name}") + f"({re.escape(_STAGING)}|{re.escape(_TRASH)})[0-9a-f]{{8}}")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None:
            continue
        leftover = path.parent / name
        if match.group(1) == _STAGING and not _older_than(leftover, _STALE_STAGING_SECONDS):
            continue  # another run may be building it right now
        _rmtree(leftover)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except OSError:
        return False


def _rmtree(path: Path) -> None:
    """Delete a tree we own, making read-only parts writable; what still resists is left for the next sweep."""

    def make_writable_and_retry(function: Callable[..., object], target: str, *_: object) -> None:
        try:
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            if not os.path.islink(target):
                os.chmod(target, stat.S_IRWXU)
            function(target)
        except OSError:
            pass

    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    elif sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=make_writable_and_retry)
