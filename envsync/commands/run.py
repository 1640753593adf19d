"""`envsync run [ENV] -- CMD [ARGS...]`: make sure the env is in sync, then become CMD inside it.

The in-sync case is the common one, so it takes the stamp's no-op proof and then replaces
this process with CMD (exec): CMD gets our pid, so stdin/stdout/stderr and every signal
reach it directly, and its exit code is ours. Only stdlib modules are imported on that path.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import ConfigError, EnvsyncError

USAGE = "envsync run [ENV] -- CMD [ARGS...]"


def split_words(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """ENV (or None) and the command, from the words after `run`; options before `--` are parsed here."""
    words = list(args.words)
    if "--" not in words:
        raise ConfigError("`envsync run` needs `--` before the command", f"write `{USAGE}`")
    cut = words.index("--")
    before, command = words[:cut], words[cut + 1:]
    options = [word for word in before if word.startswith("-")]
    if options:  # `run dev --no-sync -- cmd`: argparse left these among the words
        args.run_parser.parse_args(options + ["--"], namespace=args)
    names = [word for word in before if not word.startswith("-")]
    if len(names) > 1:
        raise ConfigError(f"`envsync run` takes one env, not {len(names)} ({', '.join(names)})",
                          f"write `{USAGE}`")
    if not command:
        raise ConfigError("`envsync run` needs a command after `--`", f"write `{USAGE}`")
    return (names[0] if names else None), command


def cmd_run(args: argparse.Namespace, out) -> int:
    from ..config.paths import find_config

    name, command = split_words(args)
    config_path = find_config(args.config)
    env_path = None if args.no_sync else _in_sync_path(config_path, name)
    if env_path is None:
        env_path = _sync(args, config_path, name, out)
    exec_in_env(env_path, command)
    return 1  # not reached: exec_in_env replaces this process or raises


def _in_sync_path(config_path: Path, name: str | None) -> str | None:
    """The env's folder when the stamp proves it in sync (and, with no ENV, that it is the only env)."""
    from ..stamp import still_in_sync

    stamp = still_in_sync(config_path, [name] if name else [])
    if stamp is None or (name is None and len(stamp.envs) != 1):
        return None  # with several envs, the full path below says which ones there are
    return stamp.envs[0].path


def _sync(args: argparse.Namespace, config_path: Path, name: str | None, out) -> str:
    """Load the config, pick the env, and unless --no-sync do for it exactly what `apply ENV` does."""
    from ..cli import Output, cmd_apply
    from ..config.load import load
    from ..reconcile import select_envs

    config = load(config_path)
    if name is None:
        if len(config.envs) != 1:
            names = ", ".join(env.name for env in config.envs) or "none"
            raise ConfigError(f"{config_path.name} declares {len(config.envs)} envs ({names}): say which one",
                              f"write `{USAGE.replace('[ENV]', 'ENV')}`")
        spec = config.envs[0]
    else:
        (spec,) = select_envs(config, [name])  # an unknown name gets a did-you-mean
    if not args.no_sync:
        # A config of one env is applied whole, so the in-sync result is stamped and the next run is fast.
        whole = len(config.envs) == 1
        apply_args = argparse.Namespace(config=str(config_path), envs=[] if whole else [spec.name],
                                        frozen=args.frozen, locked=args.locked, refresh=False,
                                        quiet=args.quiet, verbose=args.verbose)
        cmd_apply(apply_args, Output(args.quiet, args.verbose, results_to_stderr=True))
    return str(spec.path)


def activated_environ(env_path: str, environ: dict[str, str]) -> dict[str, str]:
    """`environ` as `activate` would leave it: the env's bin/ first on PATH, VIRTUAL_ENV set, PYTHONHOME gone."""
    result = dict(environ)
    bin_dir = os.path.join(env_path, "bin")
    result["PATH"] = os.pathsep.join([bin_dir, *([environ["PATH"]] if environ.get("PATH") else [])])
    result["VIRTUAL_ENV"] = env_path
    result.pop("PYTHONHOME", None)
    return result


def exec_in_env(env_path: str, command: list[str]) -> None:
    """Replace this process with `command` run inside the env at `env_path`."""
    if not os.path.isfile(os.path.join(env_path, "pyvenv.cfg")):
        raise EnvsyncError(f"{env_path} is not a virtual environment yet",
                           "run `envsync apply` (or `envsync run` without --no-sync) to create it")
    environ = activated_environ(env_path, dict(os.environ))
    program = command[0]
    found = program if os.sep in program else _which(program, environ["PATH"])
    if found is None:
        raise EnvsyncError(f"command {program!r} not found in {os.path.join(env_path, 'bin')} or on PATH",
                           _command_hint(program, env_path))
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(found, command, environ)
    except OSError as exc:
        raise EnvsyncError(f"cannot run {program!r} ({found}): {exc.strerror or exc}",
                           "check that it is an executable file") from exc


def _which(program: str, path: str) -> str | None:
    import shutil

    return shutil.which(program, path=path)


def _command_hint(program: str, env_path: str) -> str:
    import difflib

    try:
        scripts = sorted(os.listdir(os.path.join(env_path, "bin")))
    except OSError:
        scripts = []
    close = difflib.get_close_matches(program, scripts, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "add the package that provides it to the env's dependencies in envs.toml"
