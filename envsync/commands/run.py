"""`envsync run [OPTIONS] [ENV][:SCRIPT] [-- ARGS...]`: sync the env, then run a command or a script in it.

`ENV -- CMD` runs CMD; `ENV:SCRIPT` runs the env's script (`[envs.ENV.scripts]`) with the
arguments after `--` at its `{args}`; ENV may be left out when the config declares one env.
A matrix env's declared name runs in each of its expansions: in turn, output live, or with
`--parallel[=N]` side by side (envsync/commands/parallel.py); a header per env, then a summary.

For one env and one command line, envsync becomes the command (exec): it gets our pid, so
stdin/stdout/stderr and every signal reach it directly, and its exit code is ours. When the
stamp proves the env in sync, nothing is planned first.
"""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from envsync.commands.jobs import Job, activated_environ, exec_job, run_each, run_steps
from envsync.config.scripts import Step, script_steps, with_env_vars
from envsync.errors import ConfigError

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: the quick path of `run ENV -- CMD` imports no typing
if TYPE_CHECKING:
    from envsync.cli import Output
    from envsync.model import Config, EnvSpec

USAGE = "envsync run [OPTIONS] [ENV][:SCRIPT] [-- ARGS...]"


@dataclass(frozen=True)
class Target:
    """What `run` was asked to do: in which env (None: the only one), which script (None: `words` is
    the command), with which words after `--`, and how many runs at once (None: in turn)."""

    env: str | None
    script: str | None
    words: tuple[str, ...]
    parallel: int | None = None


def parse_target(args: argparse.Namespace) -> Target:
    """The target and the words after `--`, from what argparse left; options among them are parsed here."""
    words = list(args.words)
    if args.parallel not in (None, "auto") and not args.parallel.isdigit():
        words.insert(0, args.parallel)  # `--parallel test:test`: that word is the target, not N
        args.parallel = "auto"
    cut = words.index("--") if "--" in words else len(words)
    before, after = words[:cut], words[cut + 1:]
    options = [word for word in before if word.startswith("-")]
    if options:  # `run dev --no-sync -- cmd`: argparse left these among the words
        args.run_parser.parse_args(options + ["--"], namespace=args)
    parallel = args.parallel
    names = [word for word in before if not word.startswith("-")]
    name = names[0] if names else None
    if (name is None or ":" not in name) and cut == len(words):
        raise ConfigError("`envsync run` needs `--` before the command, or ENV:SCRIPT",
                          f"write `envsync run {name or 'ENV'} -- CMD`, or `{USAGE}`")
    if len(names) > 1:
        raise ConfigError(f"`envsync run` takes one target, not {len(names)} ({', '.join(names)})",
                          f"write `{USAGE}`; arguments for a script go after `--`")
    if name is not None and ":" in name:
        env, _, script = name.partition(":")
        if not script:
            raise ConfigError(f"`envsync run {name}` names no script after `:`",
                              f"write `envsync run {env}:SCRIPT`, or `envsync run {env} -- CMD`")
        return Target(env or None, script, tuple(after), _workers(parallel))
    if not after:
        raise ConfigError("`envsync run` needs a command after `--`", f"write `{USAGE}`")
    return Target(name, None, tuple(after), _workers(parallel))


def _workers(parallel: str | None) -> int | None:
    if parallel is None:
        return None
    if parallel == "auto":
        return os.cpu_count() or 1
    if not parallel.isdigit() or int(parallel) < 1:
        raise ConfigError(f"--parallel={parallel}: at least one run at a time", "write --parallel or --parallel=N")
    return int(parallel)


def cmd_run(args: argparse.Namespace, out: Output) -> int:
    from envsync.config.paths import find_config

    target = parse_target(args)
    config_path = find_config(args.config)
    quick = None if args.no_sync else _proven_in_sync(config_path, target)
    if quick is not None:
        jobs, several = quick
    else:
        from envsync.config.load import load

        config = load(config_path)  # from the config cache when unchanged: no validation on this path
        specs, several = choose_envs(config, target.env)
        jobs = [job_for(config, spec, target) for spec in specs]  # a wrong script or {args} fails before any sync
        skipping = args.skip_missing_pythons or config.skip_missing_pythons
        if not args.no_sync:
            _sync(args, config_path, config, specs, out)
        if skipping and several:  # apply named the expansions whose Python is missing; they are not run
            from envsync.pythons.interpreters import find_interpreter
            from envsync.state.missing_pythons import skip_missing_pythons

            kept = {spec.name for spec in skip_missing_pythons(
                config, specs, lambda python: find_interpreter(python, config.directory))[0]}
            jobs = [job for job in jobs if job.env in kept]
    if several:
        if target.parallel is not None:
            from envsync.commands.parallel import run_parallel

            return run_parallel(jobs, target.parallel, out)
        return run_each(jobs, out)
    (job,) = jobs
    if len(job.steps) == 1 and not job.steps[0].may_fail:
        exec_job(job)
    return run_steps(job, out)


def _proven_in_sync(config_path: Path, target: Target) -> tuple[list[Job], bool] | None:
    """The jobs for `ENV -- CMD` when the stamp proves the envs in sync and the config sets no
    env-vars, without loading the config: the common case, kept as quick as exec can make it.
    None sends `run` the full way (a script, env-vars, a name the stamp can't settle)."""
    from envsync.state.stamp import still_in_sync

    if target.script is not None or _sets_env_vars(config_path):
        return None
    stamp = still_in_sync(config_path, [target.env] if target.env else [])
    if stamp is None or not stamp.envs:
        return None
    declared = {(env.document.get("matrix") or {}).get("of") or env.name for env in stamp.envs}
    if len(declared) != 1:
        return None  # several envs and no name: the full way says which there are
    name = target.env or declared.pop()
    several = (stamp.envs[0].document.get("matrix") or {}).get("of") == name
    if not several and stamp.envs[0].name != name:
        return None
    return [Job(env.name, env.path, (Step(target.words, False),), activated_environ(env.path, os.environ),
                shown=shlex.join(target.words)) for env in stamp.envs], several


def _sets_env_vars(config_path: Path) -> bool:
    """Whether envs.toml may set env-vars (only its own tables can: envs inherit within it). Any
    mention of the key counts, a comment too: then the full way reads the config properly."""
    try:
        return b"env-vars" in config_path.read_bytes()
    except OSError:
        return True  # the full way says what is wrong


def choose_envs(config: Config, name: str | None) -> tuple[list[EnvSpec], bool]:
    """The envs a target names, and whether they are a matrix's expansions (run each, with a header)
    rather than one env (run as it is). No name: the config's one declared env (a matrix counts as one)."""
    from envsync.state.session import select_envs

    if name is None:
        declared = list(dict.fromkeys(env.matrix_of or env.name for env in config.envs))
        if len(declared) != 1:
            names = ", ".join(declared) or "none"
            raise ConfigError(f"{config.path.name} declares {len(declared)} envs ({names}): say which one",
                              "write `envsync run ENV -- CMD` or `envsync run ENV:SCRIPT`")
        name = declared[0]
    specs = select_envs(config, [name])  # an unknown name gets a did-you-mean
    return specs, specs[0].matrix_of == name


def job_for(config: Config, spec: EnvSpec, target: Target) -> Job:
    """What to run in `spec`: the command, or the script's lines with {args} and ${VAR}s expanded."""
    declared = spec.matrix_of or spec.name
    path = str(spec.path)
    environ = with_env_vars(activated_environ(path, os.environ), spec.env_vars, declared)
    if target.script is None:
        return Job(spec.name, path, (Step(target.words, False),), environ, shown=shlex.join(target.words))
    scripts = dict(spec.scripts)
    if target.script not in scripts:
        raise _unknown_script(config, declared, target.script, list(scripts))
    steps = script_steps(declared, target.script, scripts[target.script], target.words, environ)
    shown = "; ".join(shlex.join(step.argv) for step in steps)
    return Job(spec.name, path, tuple(steps), environ, cwd=str(config.directory), shown=shown)


def _unknown_script(config: Config, env: str, script: str, known: list[str]) -> ConfigError:
    from envsync.resolve.suggest import close_names

    if not known:
        return ConfigError(f"env {env} has no scripts, so there is no {env}:{script}",
                           f"declare it under [envs.{env}.scripts] in {config.path.name}, "
                           f"or run a command: `envsync run {env} -- CMD`")
    close = close_names(script, known, limit=1)
    listed = ", ".join(sorted(known))
    return ConfigError(f"env {env} has no script {script!r} (its scripts: {listed})",
                       f"did you mean {env}:{close[0]}?" if close else f"run one of them, e.g. "
                                                                      f"`envsync run {env}:{sorted(known)[0]}`")


def _sync(args: argparse.Namespace, config_path: Path, config: Config, specs: list[EnvSpec], out: Output) -> None:
    """Unless the stamp proves them in sync, do for the envs exactly what `apply ENV...` does. A config
    of these envs alone is applied whole, so the in-sync result is stamped and the next run is fast."""
    from envsync.commands.apply import apply_and_report
    from envsync.state.stamp import still_in_sync

    names = [] if len(specs) == len(config.envs) else [spec.name for spec in specs]
    if still_in_sync(config_path, names) is None:
        apply_and_report(config_path, names, out, frozen=args.frozen, locked=args.locked,
                         skip_missing_pythons=args.skip_missing_pythons)
