"""What several commands need: the one env named on the command line, and its fresh lock."""

from __future__ import annotations

from collections.abc import Callable

from envsync.errors import ConfigError
from envsync.model import EnvSpec
from envsync.state.desired import Resolution, desired_states
from envsync.state.session import Session, select_envs


def one_env(session: Session, name: str, command: str) -> EnvSpec:
    """The env called `name` (a did-you-mean error if there is none). A matrix env's declared
    name is accepted only when it has one expansion: `command` acts on one env."""
    found = select_envs(session.config, [name])
    if len(found) > 1:
        names = ", ".join(spec.name for spec in found)
        raise ConfigError(f"{name!r} is a matrix env with {len(found)} expansions ({names}), and "
                          f"`envsync {command}` acts on one env", f"name one of them, e.g. `envsync {command} "
                                                                  f"{found[-1].name}`")
    return found[0]


def locked(session: Session, spec: EnvSpec, note: Callable[[str], None], *, here: bool = True) -> Resolution:
    """The env's desired state from its lock, resolved and written first (as `lock` does) when
    the lock is missing or stale, so what a command shows is what the lock file says. With
    `here=False` the lock may serve other platforms only (its pins here are then empty)."""
    from envsync.resolve.lockfile import write_lock

    states = desired_states(session, [spec], here=here)  # with the other envs of its solve group, if any
    for resolution in states.values():
        if resolution.lock_write is not None:
            write_lock(resolution.lock_write)
            note(f"wrote {resolution.lock_write.path.name}")
    return states[spec.name]
