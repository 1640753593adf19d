"""`envsync python list | install V... | uninstall V...`: the Pythons found here and the ones envsync installs.

`install` and `uninstall` work on python-build-standalone builds in envsync's data folder
(envsync/pythons/installs.py). An installed Python still used by an env of this config is not
removed unless --force, after which the next `apply` recreates those envs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from envsync.errors import ConfigError, EnvsyncError
from envsync.model import Config

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: annotations only, no import at run time
if TYPE_CHECKING:
    from envsync.cli import Output


def run(args: argparse.Namespace, out: Output) -> int:
    action = {"list": _list, "install": _install, "uninstall": _uninstall}[args.python_command]
    return action(args, out)


def _config(args: argparse.Namespace) -> Config | None:
    """This folder's config, when there is one (to say which env uses which Python)."""
    from envsync.config.load import load
    from envsync.config.paths import find_config

    try:
        return load(find_config(args.config))
    except EnvsyncError:
        if args.config:
            raise
        return None


def _users(config: Config | None) -> dict[str, list[str]]:
    """For each base interpreter folder (pyvenv.cfg's `home`), the envs of `config` made from it."""
    from envsync.state.survey import survey

    users: dict[str, list[str]] = {}
    for spec in config.envs if config else ():
        home = survey(spec.path).python_home
        if home:
            users.setdefault(os.path.realpath(home), []).append(spec.name)
    return users


def _used_by(folder: Path, users: dict[str, list[str]]) -> list[str]:
    real = os.path.realpath(folder)
    return sorted(name for home, names in users.items() for name in names
                  if home == real or home.startswith(real + os.sep))


def _list(args: argparse.Namespace, out: Output) -> int:
    from envsync.pythons.interpreters import discovered

    users = _users(_config(args))
    for interpreter, source in discovered():
        names = _used_by(interpreter.executable.parent, users)
        used = f"  used by {', '.join(names)}" if names else ""
        out.result(f"{interpreter.implementation}-{interpreter.version}  {interpreter.executable}  ({source}){used}")
    return 0


def _install(args: argparse.Namespace, out: Output) -> int:
    from envsync.pythons.catalogue import find_build
    from envsync.pythons.installs import install, installed
    from envsync.pythons.interpreters import version_spec

    if _policy(args) == "never":
        raise ConfigError("Python downloads are switched off (python-downloads = \"never\")",
                          "set settings.python-downloads (or ENVSYNC_PYTHON_DOWNLOADS) to manual or automatic")
    for request in args.versions:
        spec = version_spec(request)
        have = [python for python in installed() if spec.contains(python.version, prereleases=True)]
        if have:
            out.info(f"Python {have[0].version} is already installed ({have[0].folder})")
            continue
        python = install(find_build(spec, request), out.progress)
        out.info(f"installed Python {python.version} ({python.folder})")
    return 0


def _uninstall(args: argparse.Namespace, out: Output) -> int:
    from envsync.pythons.installs import installed, uninstall
    from envsync.pythons.interpreters import version_spec

    users = _users(_config(args))
    for request in args.versions:
        spec = version_spec(request)
        matching = [python for python in installed() if spec.contains(python.version, prereleases=True)]
        if not matching:
            raise ConfigError(f"no Python installed by envsync matches {request!r}",
                              "`envsync python list` shows what is installed, and by whom")
        for python in matching:
            names = _used_by(python.folder, users)
            if names and not args.force:
                raise ConfigError(f"Python {python.version} is used by env{'s' if len(names) > 1 else ''} "
                                  f"{', '.join(names)}; not removed",
                                  "remove or repoint those envs first, or pass --force (the next apply "
                                  "recreates them, installing a Python again if one is needed)")
            uninstall(python)
            recreated = f"; the next apply recreates {', '.join(names)}" if names else ""
            out.info(f"removed Python {python.version} ({python.folder}){recreated}")
    return 0


def _policy(args: argparse.Namespace) -> str:
    from envsync.pythons.ondemand import downloads_policy

    config = _config(args)
    return downloads_policy(config.python_downloads if config else "automatic")
