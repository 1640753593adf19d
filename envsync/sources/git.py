"""A git repository at a commit: `name @ git+https://host/repo@rev#subdirectory=x`.

The revision is fixed to a commit when resolved; the commit is checked out from a bare mirror
in the cache and built like a project folder. Credentials in the URL (or, for its host, in the
environment or netrc) reach git through its environment for that host only: the mirror's
config, the lock and direct_url.json hold the URL without them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from packaging.requirements import Requirement

from envsync.errors import BuildFailed, LockError
from envsync.files.cache import cache_subdir
from envsync.model import Installed, Pin
from envsync.resolve.urls import redact, strip_credentials
from envsync.sources.base import BuilderFactory, DirectDist, Source, check_name, lock_relative, moved, shown
from envsync.sources.folder import folder_dist

if TYPE_CHECKING:
    from packaging.direct_url import DirectUrl
    from packaging.pylock import Package

    from envsync.build.pep517 import Builder


@dataclass(frozen=True)
class GitSource(Source):
    """A commit of a git repository (and a subdirectory of it, for a project not at its root)."""

    kind: ClassVar[str] = "vcs"
    repository: str  # SCHEME://host/repo or file:///folder, without "git+" and without credentials
    commit_id: str
    requested_revision: str | None = None  # as written after "@"
    subdirectory: str | None = None

    @property
    def url(self) -> str:  # type: ignore[override]
        return self.repository

    @property
    def key(self) -> str:
        return f"git+{self.repository}@{self.commit_id}#{self.subdirectory or ''}"

    def wheel(self, pin: Pin, builder: Builder, work: Path) -> Path:
        checkout, _ = git_checkout(self.repository, self.commit_id, f"{pin.name} @ {self.repository}")
        folder = checkout / self.subdirectory if self.subdirectory else checkout
        return builder.build_wheel(folder, work, f"{pin.name} @ {self.repository}", editable=False)

    def direct_url(self) -> DirectUrl:
        from packaging.direct_url import DirectUrl, VcsInfo

        return DirectUrl(url=self.repository, subdirectory=self.subdirectory,
                         vcs_info=VcsInfo(vcs="git", commit_id=self.commit_id,
                                          requested_revision=self.requested_revision))

    def lock_entry(self, pin: Pin, lock_folder: Path) -> dict[str, Any]:
        from packaging.pylock import PackageVcs

        where = ({"path": lock_relative(Path(urllib.parse.unquote(urllib.parse.urlsplit(self.repository).path)),
                                        lock_folder)}
                 if self.repository.startswith("file:") else {"url": self.repository})
        return {"vcs": PackageVcs(type="git", **where, requested_revision=self.requested_revision,
                                  commit_id=self.commit_id, subdirectory=self.subdirectory)}

    def export_line(self, package: Package, base: Path) -> str:
        suffix = f"#subdirectory={self.subdirectory}" if self.subdirectory else ""
        head = f"{package.name} @ git+{self.repository}@{self.commit_id}{suffix}"
        return head + (f" ; {package.marker}" if package.marker is not None else "")

    def reinstall_reason(self, pin: Pin, have: Installed) -> str | None:
        reason = moved(self, have)
        if reason:
            return reason
        if have.source_id != self.commit_id:
            return f"commit {(have.source_id or '?')[:12]} -> {self.commit_id[:12]}"
        return None

    def digest_entry(self) -> list[Any]:
        return [self.repository, False]


class GitKind:
    name = "vcs"
    local = False

    def claims(self, url: str, config_dir: Path) -> bool:
        return url.startswith("git+")

    def read(self, requirement: Requirement, config_dir: Path, builder: BuilderFactory) -> DirectDist:
        dist = git_dist(requirement.url or "", builder, shown(requirement))
        check_name(requirement, dist)
        return dist

    def from_lock(self, package: Package, lock_path: Path) -> Source | None:
        vcs = package.vcs
        if vcs is None:
            return None
        if vcs.type != "git":
            raise LockError(f"{lock_path.name}: package {package.name} comes from {vcs.type}, "
                            "and envsync installs from git only", "re-lock with `envsync lock`")
        url = vcs.url or (lock_path.parent / (vcs.path or ".")).resolve().as_uri()
        return GitSource(without_secret(url), vcs.commit_id, vcs.requested_revision, vcs.subdirectory)


KIND = GitKind()


def split_git_url(url: str) -> tuple[str, str | None, str | None]:
    """`git+SCHEME://host/repo@rev#subdirectory=x` -> (SCHEME://host/repo, rev, subdirectory)."""
    base, _, fragment = url.removeprefix("git+").partition("#")
    subdirectory = dict(urllib.parse.parse_qsl(fragment)).get("subdirectory")
    parts = urllib.parse.urlsplit(base)
    path, at, revision = parts.path.rpartition("@")
    if not at or "/" in revision:
        return base, None, subdirectory
    return urllib.parse.urlunsplit(parts._replace(path=path)), revision or None, subdirectory


def without_secret(url: str) -> str:
    """An http(s) repository URL without its credentials; an ssh URL keeps its user (`git@host`),
    which names the account to log in as and is no secret."""
    return strip_credentials(url) if url.startswith(("http:", "https:")) else url


def git_dist(url: str, builder: BuilderFactory, label: str) -> DirectDist:
    """A `git+` requirement: its revision fixed to a commit, its metadata from the checkout."""
    repository, revision, subdirectory = split_git_url(url)
    checkout, commit = git_checkout(repository, revision, label)
    folder = checkout / subdirectory if subdirectory else checkout
    dist = folder_dist(folder, False, builder, label)
    return replace(dist, source=GitSource(without_secret(repository), commit, revision, subdirectory))


def git_checkout(repository: str, revision: str | None, label: str) -> tuple[Path, str]:
    """A checkout of `revision` (default: the default branch) in the cache, and its commit id.

    `repository` may carry credentials: they are passed to git for its host only, and the
    mirror is named and configured by the URL without them."""
    plain = without_secret(repository)
    environment = _credentials_environment(repository)
    mirror = cache_subdir("git") / hashlib.sha256(plain.encode()).hexdigest()[:32]
    if not (mirror / "HEAD").exists():
        _git(["clone", "--quiet", "--bare", "--", plain, str(mirror)], None, label, environment)
    elif revision is None or not _has_commit(mirror, revision):
        _git(["fetch", "--quiet", "--force", "--", plain, "+refs/heads/*:refs/heads/*",
              "+refs/tags/*:refs/tags/*"], mirror, label, environment)
    commit = _git(["rev-parse", "--verify", f"{revision or 'HEAD'}^{{commit}}"], mirror, label).strip()
    checkout = cache_subdir("git-checkouts") / commit
    if not checkout.is_dir():
        staging = checkout.with_name(f".{commit}.tmp-{os.getpid()}")
        _git(["clone", "--quiet", "--no-checkout", "--", str(mirror), str(staging)], None, label)
        _git(["checkout", "--quiet", commit], staging, label)
        os.replace(staging, checkout) if not checkout.exists() else None
    return checkout, commit


def _has_commit(mirror: Path, revision: str) -> bool:
    """Whether `revision` is a full commit id the mirror already holds (nothing to fetch then)."""
    if len(revision) != 40 or any(char not in "0123456789abcdef" for char in revision.lower()):
        return False
    result = subprocess.run(["git", "cat-file", "-e", f"{revision}^{{commit}}"], cwd=mirror, capture_output=True,
                            check=False, stdin=subprocess.DEVNULL)
    return result.returncode == 0


def _credentials_environment(repository: str) -> dict[str, str]:
    """Git configuration, through the environment (never a file, never the command line), that sends
    the repository's credentials, from its URL or else from the environment or netrc for its
    host, as an Authorization header to that URL's host only."""
    from envsync.resolve.credentials import credentials_by_origin

    parts = urllib.parse.urlsplit(repository)
    if parts.scheme not in ("http", "https"):
        return {}
    found = next(iter(credentials_by_origin([repository]).values()), None)
    if found is None:
        return {}
    token = base64.b64encode(f"{found[0]}:{found[1]}".encode()).decode()
    host = urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "/", "", ""))
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.{host}.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}"}


def _git(args: Sequence[str], cwd: Path | None, label: str, environment: Mapping[str, str] | None = None) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
                                stdin=subprocess.DEVNULL,
                                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(environment or {})})
    except FileNotFoundError:
        raise BuildFailed(f"{label}: git is not installed", "install git to use git+ requirements") from None
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        # git's first "fatal:"/"error:" line says what went wrong; what follows is advice for its own CLI.
        said = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[0] if lines else "")
        detail = redact(said or "no output")
        raise BuildFailed(f"{label}: git {args[0]} failed: {detail}", "check the repository URL and revision")
    return result.stdout
