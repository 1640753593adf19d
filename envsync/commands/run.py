"""`envsync run [ENV] -- CMD [ARGS...]`: make sure the env is in sync, then become CMD inside it.

A matrix env's declared name (`run test -- pytest`) runs CMD in each of its expansions in
turn instead, as a child process, with a header per env and a summary.

The in-sync case is the common one, so it takes the stamp's no-op proof and then replaces
this process with CMD (exec): CMD gets our pid, so stdin/stdout/stderr and every signal
reach it directly, and its exit code is ours. Only stdlib modules are imported on that path.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from envsync.errors import ConfigError, EnvsyncError

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
    from envsync.config.paths import find_config

    name, command = split_words(args)
    config_path = find_config(args.config)
    env_path = None if args.no_sync else _in_sync_path(config_path, name)
    if env_path is None:
        envs = _in_sync_matrix(config_path, name) if name and not args.no_sync else None
        matrix = envs is not None
        if envs is None:
            specs, matrix = _sync(args, config_path, name, out)
            envs = [(spec.name, str(spec.path)) for spec in specs]
        if matrix:
            return run_each(envs, command, out)
        env_path = envs[0][1]
    exec_in_env(env_path, command)
    return 1  # not reached: exec_in_env replaces this process or raises


def _in_sync_path(config_path: Path, name: str | None) -> str | None:
    """The env's folder when the stamp proves it in sync (and, with no ENV, that it is the only env).
    None for a matrix env's declared name: its expansions are run in turn, not exec'd."""
    from envsync.state.stamp import still_in_sync

    stamp = still_in_sync(config_path, [name] if name else [])
    if stamp is None or len(stamp.envs) != 1:
        return None  # with several envs, the full path below says which ones there are
    env = stamp.envs[0]
    if (env.name != name) if name else env.document.get("matrix"):
        return None
    return env.path


def _in_sync_matrix(config_path: Path, name: str) -> list[tuple[str, str]] | None:
    """A matrix env's expansions (name, folder) when the stamp proves them all in sync, else None."""
    from envsync.state.stamp import still_in_sync

    stamp = still_in_sync(config_path, [name])
    if stamp is None or any((env.document.get("matrix") or {}).get("of") != name for env in stamp.envs):
        return None
    return [(env.name, env.path) for env in stamp.envs]


def _sync(args: argparse.Namespace, config_path: Path, name: str | None, out) -> tuple[list, bool]:
    """Load the config, pick the env (or a matrix env's expansions: then True), and unless --no-sync
    do for them exactly what `apply ENV...` does."""
    from envsync.commands.apply import apply_and_report
    from envsync.config.load import load
    from envsync.state.session import select_envs

    config = load(config_path)
    if name is None:
        declared = list(dict.fromkeys(env.matrix_of or env.name for env in config.envs))
        if len(declared) != 1:
            names = ", ".join(declared) or "none"
            raise ConfigError(f"{config_path.name} declares {len(declared)} envs ({names}): say which one",
                              f"write `{USAGE.replace('[ENV]', 'ENV')}`")
        name = declared[0]
    specs = select_envs(config, [name])  # an unknown name gets a did-you-mean
    if not args.no_sync:
        # A config of these envs alone is applied whole, so the in-sync result is stamped and the next run is fast.
        whole = len(specs) == len(config.envs)
        apply_and_report(config_path, [] if whole else [spec.name for spec in specs], out,
                         frozen=args.frozen, locked=args.locked)
    return specs, specs[0].matrix_of == name


def run_each(envs: list[tuple[str, str]], command: list[str], out) -> int:
    """Run `command` in each env (name, folder) in turn, a header line before each, then one summary line.

    Every env gets its run, whatever the others did; the exit code is 0 when every run
    succeeded, else 1 (each run's own code is in the summary). Ctrl-C stops after the
    run it interrupted, and exits 130."""
    import shlex
    import signal
    import subprocess

    shown = shlex.join(command)
    results: list[tuple[str, str]] = []
    interrupted = False
    for name, path in envs:
        out.info(f"==> {name}: {shown}")
        try:
            program, environ = _prepare(path, command)
        except EnvsyncError as error:
            out.error(error)
            results.append((name, "not run"))
            continue
        try:
            code = subprocess.run(command, executable=program, env=environ, check=False).returncode
        except KeyboardInterrupt:
            results.append((name, "interrupted"))
            interrupted = True
            break
        except OSError as exc:
            out.error(f"cannot run {command[0]!r} ({program}): {exc.strerror or exc}")
            results.append((name, "not run"))
            continue
        if code == 0:
            results.append((name, "ok"))
        elif code < 0:
            try:
                cause = signal.Signals(-code).name
            except ValueError:
                cause = f"signal {-code}"
            results.append((name, f"failed (killed by {cause})"))
        else:
            results.append((name, f"failed (exit {code})"))
    out.result("==> summary: " + ", ".join(f"{name}: {result}" for name, result in results))
    if interrupted:
        return 130
    return 0 if all(result == "ok" for _, result in results) else 1


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
    found, environ = _prepare(env_path, command)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(found, command, environ)
    except OSError as exc:
        raise EnvsyncError(f"cannot run {command[0]!r} ({found}): {exc.strerror or exc}",
                           "check that it is an executable file") from exc


def _prepare(env_path: str, command: list[str]) -> tuple[str, dict[str, str]]:
    """The program `command` names, found as the env's shell would find it, and the env's environment."""
    if not os.path.isfile(os.path.join(env_path, "pyvenv.cfg")):
        raise EnvsyncError(f"{env_path} is not a virtual environment yet",
                           "run `envsync apply` (or `envsync run` without --no-sync) to create it")
    environ = activated_environ(env_path, dict(os.environ))
    program = command[0]
    found = program if os.sep in program else _which(program, environ["PATH"])
    if found is None:
        raise EnvsyncError(f"command {program!r} not found in {os.path.join(env_path, 'bin')} or on PATH",
                           _command_hint(program, env_path))
    return found, environ


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
