"""What apply reports while it works, as values.

Workers (several envs at once, a pool of downloads) never write to the terminal: they
pass these to a `Report` callback, and one place in the CLI turns each into a whole line.
So lines from envs applied side by side never run into each other, a closed pipe can't
stop the work, and a later front end (watch mode, JSON) can show the same news its own way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envsync.model import Action


@dataclass(frozen=True)
class ActionDone:
    """One planned change was made to env `env`."""

    env: str
    action: Action


@dataclass(frozen=True)
class StartupHookAdded:
    """An installed package put a `.pth` file into the env: code that runs at every start of its Python."""

    env: str
    package: str
    version: str
    hook: str


@dataclass(frozen=True)
class WaitingForLock:
    """Another process holds the env at `path`; we wait until it is done."""

    path: Path
    holder: str


@dataclass(frozen=True)
class FetchProgress:
    """Transient: `cached + downloaded` of `total` wheels are ready, `size` bytes of them downloaded."""

    total: int
    cached: int
    downloaded: int
    size: int
    built: int = 0  # wheels built from source (an sdist, the project, a git commit): nothing downloaded


@dataclass(frozen=True)
class WheelsFetched:
    """Every wheel the plan needs is ready: how many came from the cache, how many were downloaded."""

    cached: int
    downloaded: int
    size: int  # bytes downloaded
    built: int = 0  # wheels built from source (an sdist, the project, a git commit)


@dataclass(frozen=True)
class Progress:
    """Transient news in words (resolving, ...): shown on the status line, never in a log unless -v."""

    text: str


Event = ActionDone | StartupHookAdded | WaitingForLock | FetchProgress | WheelsFetched | Progress
Report = Callable[[Event], None]
TRANSIENT = (FetchProgress, Progress)  # shown live on a terminal, dropped from logs unless -v

