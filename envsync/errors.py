"""The errors a user can cause, each with a message that says what and how to fix it.

    EnvsyncError                 base: message + hint, exit code 1
    ├── ConfigError              envs.toml (or a file it names) is invalid
    ├── InterpreterNotFound      no interpreter satisfies an env's `python`
    ├── IndexUnavailable         an index or find-links source can't be read
    ├── PackageNotFound          no index knows a requested package
    ├── ResolutionConflict       the requirements can't all be satisfied
    ├── HashMismatch             a downloaded file differs from what the index/lock says
    ├── UnsafeWheel              a wheel that would write outside the env, or lies in RECORD
    ├── EnvPathError             an env path holds something that is not a venv
    └── LockError                a lock file is missing, stale (with --locked) or invalid

Anything else reaching the CLI is a bug in envsync and is reported as one.
"""

from __future__ import annotations


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


class IndexUnavailable(EnvsyncError):
    """An index or find-links location can't be reached or read."""


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
