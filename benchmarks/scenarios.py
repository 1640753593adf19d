"""The five scenarios. Each one builds its folders under .work/, then measures every tool on a workload.

Every scenario returns `Row`s; a tool that fails (envsync included) gives a row that
records the failure, and the other rows are still measured.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import Bench, Logger, Once, Row, Step, StepFailed, bench, run_steps
from report import Metric
from tools import Toolchain, python_minor, remove, venv_python, write_envs_toml, write_lines, write_uv_project
from workloads import Workload


@dataclass(frozen=True)
class Context:
    """What every scenario needs: the tools, a work folder, and how often to measure."""

    tools: Toolchain
    work: Path
    repeat: int
    pip_repeat: int
    timeout: float
    log: Logger

    def run(self, steps: Sequence[Step]) -> None:
        """Run untimed steps (setup); raise StepFailed if one fails."""
        run_steps(steps, self.timeout)

    def measure(self, workload: Workload, specs: Sequence[Bench]) -> list[Row]:
        return [bench(spec, workload.name, self.repeat, self.timeout, self.log) for spec in specs]


def fresh_dir(path: Path) -> Path:
    remove(path)
    path.mkdir(parents=True)
    return path


def count_dists(venv: Path) -> str:
    """How many distributions a venv holds, as a note ("" when there is no venv)."""
    found = list(venv.glob("lib/python*/site-packages/*.dist-info"))
    return f"{len(found)} dists in venv" if venv.is_dir() else ""


def ensure_in_sync(ctx: Context, config: Path) -> Callable[[], None]:
    """Setup for a no-op: apply, then check that `plan --detailed-exitcode` says in sync (exit 0)."""
    def setup() -> None:
        tools = ctx.tools
        ctx.run([tools.envsync_step("apply", config)])
        try:
            ctx.run([tools.envsync_step("plan", config, "--detailed-exitcode")])
        except StepFailed as failure:
            raise StepFailed(failure.command, "not in sync right after apply:\n" + failure.detail) from None
    return setup


# -- 1. no-op ---------------------------------------------------------------------------------

NOOP_RATIOS = {"÷ uv sync": "uv sync", "÷ uv pip sync": "uv pip sync", "÷ pip-sync": "pip-sync"}


def noop(ctx: Context, wl: Workload) -> list[Row]:
    """Everything already in sync, locks fresh: how long does each tool take to say so?"""
    tools, root, pins = ctx.tools, fresh_dir(ctx.work / "noop" / wl.name), wl.pins
    config3 = write_envs_toml(root / "envsync-3", tools.python, {"a": pins, "b": pins, "c": pins})
    config1 = write_envs_toml(root / "envsync-1", tools.python, {"a": pins})
    project = root / "uv-project"
    write_uv_project(project, pins, tools.python)
    uv_venv, pip_venv = root / "uv-venv", root / "pip-sync-venv"

    synced3 = Once(ensure_in_sync(ctx, config3))
    synced1 = Once(ensure_in_sync(ctx, config1))
    uv_project = Once(lambda: ctx.run([tools.uv_step("sync", "-q", cwd=project)]))
    uv_synced = Once(lambda: ctx.run(tools.uv_venv_sync(uv_venv, wl.pins_file)))

    def pip_sync_target() -> None:
        tools.pip_tool("pip-sync")  # fails first when pip-tools is missing
        ctx.run(tools.pip_venv_uv_install(pip_venv, wl.pins_file))
        ctx.run([tools.pip_sync_step(pip_venv, wl.pins_file)])  # pip-sync's own first run, untimed

    pip_installed = Once(pip_sync_target)
    return ctx.measure(wl, [
        Bench("envsync plan (3 envs)", lambda: [tools.envsync_step("plan", config3)], setup=synced3,
              ratios=NOOP_RATIOS),
        Bench("envsync apply (3 envs)", lambda: [tools.envsync_step("apply", config3)], setup=synced3,
              ratios=NOOP_RATIOS),
        Bench("envsync plan (1 env)", lambda: [tools.envsync_step("plan", config1)], setup=synced1,
              ratios=NOOP_RATIOS),
        Bench("envsync apply (1 env)", lambda: [tools.envsync_step("apply", config1)], setup=synced1,
              ratios=NOOP_RATIOS),
        Bench("python -c pass (start-up floor)",
              lambda: [Step((str(tools.python), "-c", "pass"), tools.env_envsync(), root)]),
        Bench("uv sync", lambda: [tools.uv_step("sync", "-q", cwd=project)], setup=uv_project),
        Bench("uv sync --frozen", lambda: [tools.uv_step("sync", "-q", "--frozen", cwd=project)], setup=uv_project),
        Bench("uv pip sync", lambda: [tools.uv_step("pip", "sync", "-q", "--python", str(venv_python(uv_venv)),
                                                    str(wl.pins_file), cwd=root)], setup=uv_synced),
        Bench("pip-sync", lambda: [tools.pip_sync_step(pip_venv, wl.pins_file)], setup=pip_installed),
    ])


# -- 2. warm install into a fresh venv ----------------------------------------------------------

def install(ctx: Context, wl: Workload) -> list[Row]:
    """Every cache warm, the venv deleted before each run: build it again from the pins."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "install" / wl.name)
    config = write_envs_toml(root / "envsync", tools.python, {"a": wl.pins})
    envsync_venv, uv_venv, pip_venv = root / "envsync" / ".envs" / "a", root / "uv-venv", root / "pip-venv"
    rows = ctx.measure(wl, [
        Bench("envsync apply", lambda: [tools.envsync_step("apply", config)],
              setup=Once(lambda: ctx.run([tools.envsync_step("apply", config)])),
              prepare=lambda: remove(envsync_venv),
              ratios={"÷ uv": "uv venv + uv pip sync", "÷ pip": "venv + pip install -r"}),
        Bench("uv venv + uv pip sync", lambda: tools.uv_venv_sync(uv_venv, wl.pins_file),
              setup=Once(lambda: ctx.run(tools.uv_venv_sync(uv_venv, wl.pins_file))),
              prepare=lambda: remove(uv_venv)),
        Bench("venv + pip install -r", lambda: tools.pip_venv_install(pip_venv, wl.pins_file),
              setup=Once(lambda: ctx.run(tools.pip_venv_install(pip_venv, wl.pins_file))),
              prepare=lambda: remove(pip_venv), repeat=ctx.pip_repeat),
    ])
    for row, venv in zip(rows, (envsync_venv, uv_venv, pip_venv), strict=True):
        row.note = count_dists(venv)
    return rows


# -- 3. resolve ---------------------------------------------------------------------------------

def warm_and_cold(ctx: Context, label: str, steps: Callable[[Path | None], list[Step]], cold: Path, *,
                  output: Path | None = None, ratios: tuple[dict[str, str], dict[str, str]] = ({}, {}),
                  repeat: int | None = None) -> list[Bench]:
    """Two rows for one resolving command: `LABEL (warm)`, the tool's cache kept from an untimed first run,
    and `LABEL (cold)`, an empty `cold` folder before every run. `steps(cache)` builds the command (None: the
    warm cache). `output`, when given, is deleted before every run, so no earlier result is read back."""
    def forget_output() -> None:
        if output is not None:
            remove(output)

    def empty_cache() -> None:
        fresh_dir(cold)
        forget_output()

    return [
        Bench(f"{label} (warm)", lambda: steps(None), setup=Once(lambda: ctx.run(steps(None))),
              prepare=forget_output if output is not None else None, ratios=ratios[0], repeat=repeat),
        Bench(f"{label} (cold)", lambda: steps(cold), prepare=empty_cache, ratios=ratios[1], repeat=repeat),
    ]


def uv_compile_steps(tools: Toolchain, wl: Workload, output: Path, *options: str) -> Callable[[Path | None], list[Step]]:
    """`uv pip compile OPTIONS IN -o OUTPUT`, its cache in CACHE/uv when given one."""
    def steps(cache: Path | None) -> list[Step]:
        return [tools.uv_step("pip", "compile", "-q", "--no-header", *options, str(wl.in_file), "-o", str(output),
                              cwd=output.parent, cache=cache / "uv" if cache else None)]
    return steps


def envsync_lock_steps(tools: Toolchain, config: Path, *options: str) -> Callable[[Path | None], list[Step]]:
    """`envsync lock -c CONFIG OPTIONS`, its cache in CACHE/envsync when given one."""
    def steps(cache: Path | None) -> list[Step]:
        return [tools.envsync_step("lock", config, *options, cache=cache / "envsync" if cache else None)]
    return steps


def resolve(ctx: Context, wl: Workload) -> list[Row]:
    """Resolve the top-level requirements to a full pinned set, with a warm cache and with an empty one."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "resolve" / wl.name)
    config = write_envs_toml(root / "envsync", tools.python, {"a": wl.inputs})
    cold = root / "cold-cache"
    pip_out = root / "pip-requirements.txt"

    def pip_compile(cache: Path | None) -> list[Step]:
        return [tools.pip_compile_step(wl.in_file, pip_out, cache)]

    return ctx.measure(wl, [
        *warm_and_cold(ctx, "envsync lock --upgrade", envsync_lock_steps(tools, config, "--upgrade"), cold,
                       ratios=({"÷ uv": "uv pip compile (warm)", "÷ pip-compile": "pip-compile (warm)"},
                               {"÷ uv": "uv pip compile (cold)", "÷ pip-compile": "pip-compile (cold)"})),
        *warm_and_cold(ctx, "uv pip compile", uv_compile_steps(tools, wl, root / "uv-requirements.txt", "--upgrade"),
                       cold),
        *warm_and_cold(ctx, "pip-compile", pip_compile, cold, repeat=ctx.pip_repeat),
    ])


# -- 4. several envs ----------------------------------------------------------------------------

MULTI_RATIOS_3 = {"3 envs ÷ 1 env": "envsync apply (1 env)", "÷ uv": "uv: 3 × (venv + pip sync)"}
UV_RATIOS_3 = {"3 envs ÷ 1 env": "uv: 1 × (venv + pip sync)"}


def multi_env(ctx: Context, wl: Workload) -> list[Row]:
    """Three envs that share the workload's pins and add one package each, from fresh venvs, vs one env."""
    tools, root, pins = ctx.tools, fresh_dir(ctx.work / "multi-env" / wl.name), wl.pins
    envs3 = {f"e{n}": [*pins, extra] for n, extra in enumerate(wl.extras[:3], 1)}
    config3 = write_envs_toml(root / "envsync-3", tools.python, envs3)
    config1 = write_envs_toml(root / "envsync-1", tools.python, {"e0": pins})
    pins_files = [write_lines(root / f"{name}.pins.txt", deps) for name, deps in envs3.items()]
    uv_venvs = [root / "uv" / name for name in envs3]
    uv_single = root / "uv" / "e0"

    def uv_three() -> list[Step]:
        return [step for venv, pins_file in zip(uv_venvs, pins_files, strict=True)
                for step in tools.uv_venv_sync(venv, pins_file)]

    def drop_uv_three() -> None:
        for venv in uv_venvs:
            remove(venv)

    return ctx.measure(wl, [
        Bench("envsync apply (3 envs)", lambda: [tools.envsync_step("apply", config3)],
              setup=Once(lambda: ctx.run([tools.envsync_step("apply", config3)])),
              prepare=lambda: remove(root / "envsync-3" / ".envs"), ratios=MULTI_RATIOS_3),
        Bench("envsync apply (1 env)", lambda: [tools.envsync_step("apply", config1)],
              setup=Once(lambda: ctx.run([tools.envsync_step("apply", config1)])),
              prepare=lambda: remove(root / "envsync-1" / ".envs"), ratios={"÷ uv": "uv: 1 × (venv + pip sync)"}),
        Bench("uv: 3 × (venv + pip sync)", uv_three, setup=Once(lambda: ctx.run(uv_three())),
              prepare=drop_uv_three, ratios=UV_RATIOS_3),
        Bench("uv: 1 × (venv + pip sync)", lambda: tools.uv_venv_sync(uv_single, wl.pins_file),
              setup=Once(lambda: ctx.run(tools.uv_venv_sync(uv_single, wl.pins_file))),
              prepare=lambda: remove(uv_single)),
    ])


# -- 5. memory ----------------------------------------------------------------------------------

def memory(ctx: Context, wl: Workload) -> list[Row]:
    """Peak RSS of a warm apply into a fresh venv (the largest process, envsync or one it waited for)."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "memory" / wl.name)
    config = write_envs_toml(root / "envsync", tools.python, {"a": wl.pins})
    envsync_venv, uv_venv = root / "envsync" / ".envs" / "a", root / "uv-venv"
    return ctx.measure(wl, [
        Bench("envsync apply (fresh venv)", lambda: [tools.envsync_step("apply", config)],
              setup=Once(lambda: ctx.run([tools.envsync_step("apply", config)])),
              prepare=lambda: remove(envsync_venv), ratios={"RSS ÷ uv": "uv venv + uv pip sync"}),
        Bench("uv venv + uv pip sync", lambda: tools.uv_venv_sync(uv_venv, wl.pins_file),
              setup=Once(lambda: ctx.run(tools.uv_venv_sync(uv_venv, wl.pins_file))),
              prepare=lambda: remove(uv_venv)),
    ])


# -- 6. watch round trip --------------------------------------------------------------------------

EDIT_AND_WAIT = Path(__file__).resolve().with_name("edit_and_wait.py")


def edit_step(ctx: Context, source: Path, dest: Path, *then: str, env: dict[str, str] | None = None) -> Step:
    """Save `source`'s text as `dest`, then wait (`log FILE TEXT`) or run a command (`run CMD...`)."""
    return Step((sys.executable, "-I", str(EDIT_AND_WAIT), str(source), str(dest), *then),
                env or ctx.tools.env_envsync(), dest.parent)


class WatchProcess:
    """`envsync watch` running in the background for the whole scenario, its output in a log file."""

    def __init__(self, ctx: Context, config: Path, log: Path) -> None:
        self.ctx, self.config, self.log, self.process = ctx, config, log, None

    def start(self) -> None:
        tools = self.ctx.tools
        with open(self.log, "wb") as handle:
            self.process = subprocess.Popen([*tools.envsync, "watch", "-c", str(self.config)], stdout=handle,
                                            stderr=subprocess.STDOUT, env=tools.env_envsync(),
                                            cwd=tools.envsync_cwd)
        deadline = time.monotonic() + self.ctx.timeout
        while "watching " not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise StepFailed("envsync watch", self.log.read_text(errors="replace") or "exited")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


def watch_round_trip(ctx: Context, wl: Workload) -> list[Row]:
    """From saving a config that adds one cached package to the env being in sync: watch vs `uv sync` by hand."""
    tools, root, pins = ctx.tools, fresh_dir(ctx.work / "watch" / wl.name), wl.pins
    extra = wl.extras[0]
    folder = root / "envsync"
    config = write_envs_toml(folder, tools.python, {"a": pins})
    base, added = root / "envs.base.toml", root / "envs.added.toml"
    base.write_text(config.read_text())
    write_envs_toml(root / "added", tools.python, {"a": [*pins, extra]}).rename(added)
    project = root / "uv-project"
    uv_base, uv_added = root / "pyproject.base.toml", root / "pyproject.added.toml"
    write_uv_project(project, [*pins, extra], tools.python).rename(uv_added)
    write_uv_project(project, pins, tools.python).rename(uv_base)
    uv_pyproject = project / "pyproject.toml"
    log = root / "watch.log"
    name = extra.split("==")[0].lower().replace("_", "-")
    watcher = WatchProcess(ctx, config, log)

    def envsync_setup() -> None:  # the extra's wheel in the cache, then watch running on the base config
        for source in (added, base):
            config.write_text(source.read_text())
            ctx.run([tools.envsync_step("apply", config)])
        watcher.start()

    def uv_setup() -> None:
        for source in (uv_added, uv_base):
            uv_pyproject.write_text(source.read_text())
            ctx.run([tools.uv_step("sync", "-q", cwd=project)])

    def back_to_base() -> None:  # untimed: watch removes the extra again (not needed before the first run)
        if config.read_text() != base.read_text():
            ctx.run([edit_step(ctx, base, config, "log", str(log), f"-{name}")])

    uv_sync = (str(tools.uv), "sync", "-q") if tools.uv else ("uv",)
    try:
        return ctx.measure(wl, [
            Bench("envsync watch: save → in sync", lambda: [edit_step(ctx, added, config, "log", str(log),
                                                                      f"+{name}")],
                  setup=Once(envsync_setup), ratios={"÷ uv sync": "save, then uv sync by hand"},
                  prepare=back_to_base),
            Bench("save, then uv sync by hand", lambda: [edit_step(ctx, uv_added, uv_pyproject, "run", *uv_sync,
                                                                   env=tools.env_uv())],
                  setup=Once(uv_setup),
                  prepare=lambda: ctx.run([edit_step(ctx, uv_base, uv_pyproject, "run", *uv_sync,
                                                     env=tools.env_uv())])),
        ])
    finally:
        watcher.stop()


# -- 7. run a command in an env -----------------------------------------------------------------

def run_in_env(ctx: Context, wl: Workload) -> list[Row]:
    """`python -c pass` inside an in-sync env: envsync run vs uv run vs the bare interpreter."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "run" / wl.name)
    config = write_envs_toml(root / "envsync", tools.python, {"a": wl.pins})
    project = root / "uv-project"
    write_uv_project(project, wl.pins, tools.python)
    env_python = root / "envsync" / ".envs" / "a" / "bin" / "python"
    return ctx.measure(wl, [
        Bench("envsync run a -- python -c pass", lambda: [tools.envsync_step("run", config, "a", "--", "python",
                                                                             "-c", "pass")],
              setup=Once(ensure_in_sync(ctx, config)), ratios={"÷ uv run": "uv run python -c pass"}),
        Bench("uv run python -c pass", lambda: [tools.uv_step("run", "-q", "python", "-c", "pass", cwd=project)],
              setup=Once(lambda: ctx.run([tools.uv_step("sync", "-q", cwd=project)]))),
        Bench("env's python -c pass (bare)", lambda: [Step((str(env_python), "-c", "pass"), tools.env_envsync(),
                                                           root)]),
    ])


# -- 8. one lock for several platforms ----------------------------------------------------------

OS_MARKERS = ("sys_platform == 'linux'", "sys_platform == 'darwin'", "sys_platform == 'win32'")
UNIVERSAL = "uv pip compile --universal"


def count_pins(output: Path) -> str:
    """How many packages a lock (`[[packages]]`) or a requirements file (`name==version` lines) lists, as a note."""
    if not output.is_file():
        return ""
    lines = output.read_text().splitlines()
    if output.suffix == ".toml":
        count = sum(line.strip() == "[[packages]]" for line in lines)
    else:
        count = sum(bool(line) and not line[0].isspace() and not line.startswith(("#", "-")) for line in lines)
    return f"{count} entries"


def platforms(ctx: Context, wl: Workload) -> list[Row]:
    """One lock for Linux, macOS and Windows, made on this machine: envsync's `environments` against
    `uv pip compile --universal`, each next to the same tool's lock for this machine alone."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "platforms" / wl.name)
    multi = write_envs_toml(root / "envsync-3-os", tools.python, {"a": wl.inputs}, OS_MARKERS)
    single = write_envs_toml(root / "envsync-here", tools.python, {"a": wl.inputs})
    multi_lock, single_lock = multi.parent / "pylock.a.toml", single.parent / "pylock.a.toml"
    universal_out, plain_out = root / "uv-universal.txt", root / "uv-here.txt"
    python_version = ("--python-version", python_minor(tools.python))
    cold = root / "cold-cache"
    multi_label, single_label = "envsync lock, linux+darwin+win32", "envsync lock, this machine"

    def against(kind: str, uv: str, one_platform: str | None = None) -> dict[str, str]:
        ratios = {"÷ uv": f"{uv} ({kind})"}
        if one_platform:
            ratios["3 OS ÷ 1 platform"] = f"{one_platform} ({kind})"
        return ratios

    rows = ctx.measure(wl, [
        *warm_and_cold(ctx, multi_label, envsync_lock_steps(tools, multi), cold, output=multi_lock,
                       ratios=(against("warm", UNIVERSAL, single_label), against("cold", UNIVERSAL, single_label))),
        *warm_and_cold(ctx, single_label, envsync_lock_steps(tools, single), cold, output=single_lock,
                       ratios=(against("warm", "uv pip compile"), against("cold", "uv pip compile"))),
        *warm_and_cold(ctx, UNIVERSAL, uv_compile_steps(tools, wl, universal_out, "--universal", *python_version),
                       cold, output=universal_out,
                       ratios=({"3 OS ÷ 1 platform": "uv pip compile (warm)"},
                               {"3 OS ÷ 1 platform": "uv pip compile (cold)"})),
        *warm_and_cold(ctx, "uv pip compile", uv_compile_steps(tools, wl, plain_out, *python_version), cold,
                       output=plain_out),
    ])
    outputs = (multi_lock, single_lock, universal_out, plain_out)
    for row, output in zip(rows, [out for out in outputs for _ in ("warm", "cold")], strict=True):
        row.note = count_pins(output)
    return rows


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    about: str
    run: Callable[[Context, Workload], list[Row]]
    metric: Metric = "seconds"


SCENARIOS = {
    s.name: s for s in [
        Scenario("noop", "1. No-op (everything in sync, locks fresh)",
                 "Wall-clock of the whole process when there is nothing to do. envsync on a config of 3 envs "
                 "(each with the workload's pins) and of 1 env; `uv sync` (checks that uv.lock is up to date) and "
                 "`uv sync --frozen` on an equivalent, already synced uv project (1 venv); `uv pip sync pins.txt` "
                 "on a synced venv; `pip-sync pins.txt` on a synced venv that has pip (`python -m venv`, pins "
                 "installed by uv). `python -c pass` is the interpreter's own start-up, the floor for any Python "
                 "tool. Ratios: envsync's median ÷ the tool's median, same workload.", noop),
        Scenario("install", "2. Warm install into a fresh venv",
                 "Every cache warm (one untimed run first); before each timed run the venv is deleted. envsync: "
                 "`envsync apply` with a fresh lock. uv: `uv venv && uv pip sync pins.txt`. pip: "
                 "`python -m venv && pip install -r pins.txt` (pip's own venv also gets pip and setuptools).",
                 install),
        Scenario("resolve", "3. Resolve",
                 "The workload's top-level requirements (`.in`) to a full pinned set, ignoring any earlier result. "
                 "envsync: `envsync lock --upgrade`; uv: `uv pip compile --upgrade`; pip-tools: "
                 "`pip-compile --upgrade`. Warm: the tool's cache kept from an untimed first run. Cold: an empty "
                 "cache folder for every run (ENVSYNC_CACHE_DIR, UV_CACHE_DIR, PIP_CACHE_DIR and pip-compile's "
                 "--cache-dir).", resolve),
        Scenario("multi-env", "4. Several envs",
                 "Three envs that each hold the workload's pins plus one extra package, applied from fresh venvs "
                 "in one command, against one env with the pins alone (caches warm). uv does the same with three "
                 "`uv venv && uv pip sync` runs. `3 envs ÷ 1 env` near 1 means shared, concurrent work; 3 means "
                 "none is shared.", multi_env),
        Scenario("memory", "5. Peak memory",
                 "Peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss` in a fresh child process per run: the largest "
                 "of the tool's process and the processes it waited for) of a warm apply into a fresh venv. "
                 "Budget: under 200 MB for a 150-package env. The ratio divides peak RSS.",
                 memory, metric="rss"),
        Scenario("watch", "6. Watch round trip",
                 "From saving a config that adds one package already in the cache to the env being in sync. "
                 "envsync: `envsync watch` running, until it prints the env's line. uv: the same edit to "
                 "`pyproject.toml`, then `uv sync` by hand. Both are timed through one small script that saves "
                 "the file (benchmarks/edit_and_wait.py), so its start-up counts for both.", watch_round_trip),
        Scenario("run", "7. Run a command in an in-sync env",
                 "`python -c pass` inside the env: `envsync run a -- python -c pass` (no-op check, then exec), "
                 "`uv run python -c pass` on a synced uv project, and the env's own interpreter alone. "
                 "Overhead = tool − bare.", run_in_env),
        Scenario("platforms", "8. One lock for several platforms",
                 "The workload's `.in` locked once for Linux, macOS and Windows from this machine. envsync: "
                 "`envsync lock` with `environments = [\"sys_platform == 'linux'\", \"sys_platform == 'darwin'\", "
                 "\"sys_platform == 'win32'\"]` (Linux x86_64 and aarch64, macOS arm64, Windows AMD64, on the "
                 "venvs' Python); uv: `uv pip compile --universal --python-version X.Y` (every platform, and every "
                 "Python from X.Y on). Each next to the same tool's lock for this machine alone (no `environments`; "
                 "`uv pip compile --python-version X.Y`). The lock or output file is deleted before every run. Warm: "
                 "the tool's cache kept from an untimed first run; cold: an empty cache folder for every run. "
                 "`3 OS ÷ 1 platform` is what locking for the three costs each tool; notes count the entries "
                 "written (uv writes a package twice when two Pythons or platforms need different versions).",
                 platforms),
    ]
}
