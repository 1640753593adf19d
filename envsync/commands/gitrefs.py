"""The git side of `plan --base`: the repository holding the config, the commit a GITREF names,
and that commit's files, read without touching the user's work tree, index or branches."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from envsync.errors import GitError


@dataclass(frozen=True)
class Checkout:
    """The git repository holding the config: its top folder and the config folder's path inside it."""

    top: Path
    prefix: str  # "" or "sub/dir/", as git prints it

    def git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return _git(self.top, *args)


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, check=False,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    except FileNotFoundError:
        raise GitError("`plan --base` needs git, and git is not installed here",
                       "install git, or run `envsync plan` without --base") from None


def find_checkout(folder: Path) -> Checkout:
    """The repository `folder` is in, or a GitError saying it is in none."""
    result = _git(folder, "rev-parse", "--show-toplevel", "--show-prefix")
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"{folder} is not in a git repository, so there is no --base to compare with"
                       + (f" ({message[-1]})" if message else ""),
                       "run `envsync plan --base` inside a git clone, or drop --base")
    top, prefix = (result.stdout.decode().splitlines() + ["", ""])[:2]
    return Checkout(Path(top), prefix)


def resolve_ref(checkout: Checkout, ref: str) -> str:
    """The commit `ref` names; a GitError that says how to fetch it when the clone lacks it."""
    if not ref or ref.startswith("-"):
        raise GitError(f"--base {ref!r} is not a git revision", "give a branch, tag or commit, e.g. --base main")
    result = checkout.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode == 0:
        return result.stdout.decode().strip()
    shallow = checkout.git("rev-parse", "--is-shallow-repository").stdout.decode().strip() == "true"
    if shallow:
        raise GitError(f"--base {ref}: this is a shallow clone and it does not hold that commit",
                       "fetch more history: `git fetch --deepen=50 origin` (or `git fetch --unshallow`), "
                       f"and fetch the base branch if it is a branch (`git fetch origin {ref}`); in GitHub "
                       "Actions, give actions/checkout `fetch-depth: 0`")
    raise GitError(f"--base {ref}: no such branch, tag or commit in {checkout.top}",
                   "check the name (`git branch -a`, `git tag`), or fetch it: `git fetch origin`")


def read_at(checkout: Checkout, commit: str, name: str) -> bytes | None:
    """The bytes of `name` (in the config's folder) at `commit`, or None when it has no such file."""
    spec = f"{commit}:{checkout.prefix}{name}"
    if checkout.git("cat-file", "-e", spec).returncode != 0:
        return None
    result = checkout.git("show", spec)
    if result.returncode != 0:
        raise GitError(f"git show {spec} failed: {result.stderr.decode(errors='replace').strip()}",
                       "check the repository with `git fsck`")
    return result.stdout


def materialise(checkout: Checkout, commit: str, folder: Path) -> None:
    """Every file of `commit` written under `folder`, as `git archive` streams them: the user's
    work tree, index and branches are not touched. Links or paths leaving `folder` are refused."""
    import tarfile

    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(["git", "-C", str(checkout.top), "archive", "--format=tar", commit],
                                   stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
        assert process.stdout is not None
        unreadable: tarfile.TarError | None = None
        try:
            with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
                archive.extractall(folder, filter="data")
        except tarfile.FilterError as exc:
            raise GitError(f"the tree at {commit[:12]} holds a file envsync won't write: {exc}",
                           "review that commit without the link, or run `envsync plan` without --base") from None
        except tarfile.TarError as exc:
            unreadable = exc  # when git failed, its own words (below) say why
        finally:
            process.stdout.close()
            code = process.wait()
        if code != 0 or unreadable is not None:
            errors.seek(0)
            said = errors.read().decode(errors="replace").strip() or str(unreadable or f"exit code {code}")
            raise GitError(f"git archive {commit[:12]} failed: {said}", "check the repository with `git fsck`")
