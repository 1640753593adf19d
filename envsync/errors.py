"""The errors a user can cause, each with a message that says what and how to fix it.

    EnvsyncError                 base: message + hint, exit code 1
    ├── ConfigError              envs.toml (or a file it names) is invalid
    ├── InterpreterNotFound      no interpreter satisfies an env's `python`
    │   └── PythonDownloadError  ... and none can be downloaded: no build fits, the download failed
    ├── IndexUnavailable         an index or find-links source can't be read
    │   └── InsecureRedirect     an https index redirected to plain http
    ├── PackageNotFound          no index knows a requested package
    ├── ResolutionConflict       the requirements can't all be satisfied
    ├── HashMismatch             a downloaded file differs from what the index/lock says
    ├── UnsafeWheel              a wheel that would write outside the env, or lies in RECORD
    ├── EnvPathError             an env path holds something that is not a venv
    ├── DiskError                the disk refused a write: full, read-only, no permission
    ├── BuildFailed              a project's or sdist's build backend failed, or it is unsafe to unpack
    ├── LockError                a lock file is missing, stale (with --locked) or invalid
    └── GitError                 `plan --base`: no git repository, unknown ref, shallow clone

Anything else reaching the CLI is a bug in envsync and is reported as one.
"""

from __future__ import annotations

import errno


class EnvsyncError(Exception):
    """A failure the user can act on. `hint` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(EnvsyncError):
    """The config (or a file it points to) is malformed or inconsistent."""


class InterpreterNotFound(EnvsyncError):
    """No interpreter on this machine satisfies an env's `python` request."""


class PythonDownloadError(InterpreterNotFound):
    """A Python that is not installed could not be installed either: no build fits this machine or
    the request, the download failed or differed from its sha256, or downloads are switched off."""


class IndexUnavailable(EnvsyncError):
    """An index or find-links location can't be reached or read."""


class InsecureRedirect(IndexUnavailable):
    """An https index sent envsync to plain http, where pages, files and credentials travel in clear."""


class PackageNotFound(EnvsyncError):
    """A requested project exists on none of the configured indexes."""


class ResolutionConflict(EnvsyncError):
    """The requirements of an env contradict each other."""


class HashMismatch(EnvsyncError):
    """A file's sha256 differs from the one the index or lock promised."""


class UnsafeWheel(EnvsyncError):
    """A wheel that would write outside the env, or whose contents contradict its RECORD."""


class EnvPathError(EnvsyncError):
    """An env's path holds something envsync must not touch."""


class LockError(EnvsyncError):
    """A lock file is missing, stale (under --locked) or not valid PEP 751."""


class BuildFailed(EnvsyncError):
    """A build backend failed on a project or sdist, or an sdist is unsafe to unpack."""


class DiskError(EnvsyncError):
    """The file system refused a write: the disk is full, read-only, or not ours to write."""


# errno -> (what happened, what to do). Kept as data so the message for each cause is in one place.
_DISK_ERRORS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device", "free some space"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or raise the quota"),
    errno.EROFS: ("the file system is read-only", "point the env's `path` at a writable folder, or remount it"),
    errno.EACCES: ("permission denied", "check the folder's owner and permissions"),
    errno.EPERM: ("operation not permitted", "check the folder's owner, permissions and attributes"),
}


def from_os_error(exc: OSError, path: object) -> EnvsyncError:
    """An OSError from writing an env, as a message naming the path and the cause, not a traceback.

    Called at the apply boundary (install/* raises plain OSError). `path` is what was being
    changed (the env); the file the OS complained about, when it says, is named too. The
    env may be half changed: the hint says the next `apply` repairs it, as the README guarantees.
    """
    what, fix = _DISK_ERRORS.get(exc.errno or 0, (exc.strerror or type(exc).__name__, "fix the cause"))
    culprit = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    error_type = DiskError if exc.errno in _DISK_ERRORS else EnvsyncError
    return error_type(f"cannot write {path}: {what}{culprit}",
                      f"{fix}, then run `envsync apply` again: it repairs anything left half-changed")


class GitError(EnvsyncError):
    """`plan --base`: not a git repository, an unknown ref, or a shallow clone missing the commit."""
