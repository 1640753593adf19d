"""Round 3 scenarios: the spread of cold resolves, and how cost grows with envs and env size.

They follow scenarios.py's shape (a function of a Context and a Workload that returns Rows), but
some rows are measured alternately or side by side, so they build their Rows here.
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
from pathlib import Path

from harness import Bench, Once, Row, Step, StepFailed, run_steps
from scenarios import Context, Scenario, count_dists, ensure_in_sync, envsync_lock_steps, fresh_dir, uv_compile_steps
from tools import empty_set_aside, set_aside, venv_python, write_envs_toml
from workloads import Workload

ENV_COUNTS = (1, 4, 16, 64)
BASE_ENVS = 10


# -- measuring rows in turn -------------------------------------------------------------------------

def alternate(ctx: Context, wl: Workload, specs: list[Bench]) -> list[Row]:
    """Like Context.measure, but run by run in turn (A, B, A, B...), so that every row meets the same
    drift in machine load and disk pressure. A failed run is counted in the row's note and the row
    goes on (a spread should show a run that fails now and then); a row none of whose runs worked
    shows its last failure."""
    rows = [Row(spec.label, wl.name, ratios=dict(spec.ratios), note=spec.note) for spec in specs]
    failed: dict[str, list[StepFailed]] = {spec.label: [] for spec in specs}
    for spec, row in zip(specs, rows, strict=True):
        try:
            if spec.setup is not None:
                spec.setup()
        except StepFailed as failure:
            row.failure = failure
    for index in range(ctx.repeat):
        for spec, row in zip(specs, rows, strict=True):
            if row.failure is not None:
                continue
            try:
                if spec.prepare is not None:
                    spec.prepare()
                sample = run_steps(spec.steps(), ctx.timeout)
            except OSError as exc:
                row.failure = StepFailed("(harness preparation)", f"{type(exc).__name__}: {exc}")
            except StepFailed as failure:
                failed[row.label].append(failure)
                ctx.log(f"  {wl.name:>6} | {row.label}: run {index + 1}/{ctx.repeat} FAILED: {failure.summary}")
            else:
                row.samples.append(sample)
                ctx.log(f"  {wl.name:>6} | {row.label}: run {index + 1}/{ctx.repeat} {sample.seconds:.3f}s "
                        f"{sample.peak_rss_kb / 1024:.0f} MB")
    for row in rows:
        failures = failed[row.label]
        if failures and not row.samples and row.failure is None:
            row.failure = failures[-1]
        elif failures:
            row.note = f"{len(failures)} of {ctx.repeat} runs FAILED ({failures[0].summary[:120]})"
    return rows


# -- cold-resolve spread -------------------------------------------------------------------------

def spread_note(row: Row, baseline: Row | None) -> str:
    """Every run's time, the maximum, and (for envsync) the goals' two ratios to uv's median."""
    times = [sample.seconds for sample in row.samples]
    note = f"max {max(times):.2f} s; runs: " + ", ".join(f"{t:.2f}" for t in times)
    if baseline is not None and baseline.ok:
        uv_median = baseline.median
        note += (f"; slowest ÷ uv median {max(times) / uv_median:.2f}×, "
                 f"median ÷ uv median {statistics.median(times) / uv_median:.2f}×")
    return note


def cold_spread(ctx: Context, wl: Workload) -> list[Row]:
    """`envsync lock --upgrade` and `uv pip compile --upgrade`, each with an empty cache every run,
    alternating run by run, so that both meet the same network and the same machine load."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "cold-spread" / wl.name)
    config = write_envs_toml(root / "envsync", tools.python, {"a": wl.inputs})
    cold = root / "cold-cache"
    envsync_steps = envsync_lock_steps(tools, config, "--upgrade")
    uv_steps = uv_compile_steps(tools, wl, root / "uv-requirements.txt", "--upgrade")
    def empty_cache() -> None:
        fresh_dir(cold)

    rows = alternate(ctx, wl, [
        Bench("envsync lock --upgrade (cold)", lambda: envsync_steps(cold), prepare=empty_cache,
              ratios={"÷ uv": "uv pip compile --upgrade (cold)"}),
        Bench("uv pip compile --upgrade (cold)", lambda: uv_steps(cold), prepare=empty_cache),
    ])
    envsync_row, uv_row = rows
    for row, baseline in ((envsync_row, uv_row), (uv_row, None)):
        if row.ok:
            row.note = "; ".join(part for part in (spread_note(row, baseline), row.note) if part)
    return rows


# -- many envs -------------------------------------------------------------------------------------

def uv_side_by_side(ctx: Context, venvs: list[Path], pins: Path) -> Step:
    """`uv venv && uv pip sync` for every venv at once: one process pair per venv, all started together
    (xargs -P), failing when any fails."""
    tools = ctx.tools
    if tools.uv is None:
        raise StepFailed("uv", "uv was not found on PATH")
    uv = shlex.quote(str(tools.uv))
    one = (f'{uv} venv -q "$0" && {uv} pip sync -q --python "$0/bin/python" {shlex.quote(str(pins))}')
    listing = venvs[0].parent / "venvs.txt"
    listing.write_text("".join(f"{venv}\n" for venv in venvs))
    argv = ("sh", "-c", f'xargs -P {len(venvs)} -n 1 sh -c {shlex.quote(one)} < {shlex.quote(str(listing))}')
    return Step(argv, tools.env_uv(), venvs[0].parent)


def scale_envs(ctx: Context, wl: Workload) -> list[Row]:
    """N envs of the workload's pins, N in ENV_COUNTS: apply into fresh venvs, the no-op plan, and uv
    doing the same venvs one by one and side by side."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "scale-envs" / wl.name)
    trash = root / "set-aside"
    rows: list[Row] = []
    for count in ENV_COUNTS:
        names = [f"e{n}" for n in range(count)]
        folder = root / f"envsync-{count}"
        config = write_envs_toml(folder, tools.python, {name: wl.pins for name in names})
        uv_venvs = [root / f"uv-{count}" / name for name in names]
        (root / f"uv-{count}").mkdir(parents=True, exist_ok=True)
        one_by_one = f"uv: {count} × (venv + pip sync), one by one"
        side_by_side = f"uv: {count} × (venv + pip sync), side by side"
        applied = Once(lambda config=config: ctx.run([tools.envsync_step("apply", config)]))

        def uv_serial(venvs: list[Path] = uv_venvs) -> list[Step]:
            return [step for venv in venvs for step in tools.uv_venv_sync(venv, wl.pins_file)]

        def drop(venvs: list[Path] = uv_venvs) -> None:
            for venv in venvs:
                set_aside(venv, trash)

        rows += alternate(ctx, wl, [
            Bench(f"envsync apply ({count} envs)", lambda config=config: [tools.envsync_step("apply", config)],
                  setup=applied, prepare=lambda folder=folder: set_aside(folder / ".envs", trash),
                  ratios={"÷ uv one by one": one_by_one, "÷ uv side by side": side_by_side}),
            Bench(one_by_one, uv_serial, setup=Once(lambda steps=uv_serial: ctx.run(steps())), prepare=drop),
            Bench(side_by_side, lambda venvs=uv_venvs: [uv_side_by_side(ctx, venvs, wl.pins_file)], prepare=drop),
            Bench(f"envsync plan, no-op ({count} envs)", lambda config=config: [tools.envsync_step("plan", config)],
                  setup=Once(ensure_in_sync(ctx, config))),
        ])
    for row in rows:
        if row.label.startswith("envsync apply ("):
            count = int(row.label.split("(")[1].split()[0])
            venvs = list((root / f"envsync-{count}" / ".envs").iterdir()) if count else []
            row.note = "; ".join(part for part in (f"{count} venvs, {count_dists(venvs[0]) if venvs else ''} each",
                                                    row.note) if part)
    empty_set_aside(trash)
    return rows


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
                        "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost",
                        "HOME": str(folder), "PATH": "/usr/bin:/bin"})


def plan_base(ctx: Context, wl: Workload) -> list[Row]:
    """`envsync plan --base HEAD` on a git project of ten envs (the workload's pins each, locked),
    where the working tree adds one package to one env and re-locks it: caches warm."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "plan-base" / wl.name)
    envs = {f"e{n}": wl.pins for n in range(BASE_ENVS)}
    config = write_envs_toml(root, tools.python, envs)

    def setup() -> None:
        git(root, "init", "-q")
        (root / ".gitignore").write_text(".envs/\n")
        ctx.run([tools.envsync_step("lock", config)])
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "ten envs")
        write_envs_toml(root, tools.python, {**envs, "e0": [*wl.pins, wl.extras[0]]})
        ctx.run([tools.envsync_step("lock", config)])

    return ctx.measure(wl, [
        Bench(f"envsync plan --base HEAD ({BASE_ENVS} envs, one changed)",
              lambda: [tools.envsync_step("plan", config, "--base", "HEAD")], setup=Once(setup)),
    ])


# -- env size --------------------------------------------------------------------------------------

def scale_size(ctx: Context, wl: Workload) -> list[Row]:
    """One env of the workload's pins: apply into a fresh venv, the no-op plan, and uv's
    `uv venv && uv pip sync` (caches warm). Run it on small, medium, large and xl."""
    tools, root = ctx.tools, fresh_dir(ctx.work / "scale-size" / wl.name)
    config = write_envs_toml(root / "envsync", tools.python, {"a": wl.pins})
    envsync_venv, uv_venv = root / "envsync" / ".envs" / "a", root / "uv-venv"
    trash = root / "set-aside"
    uv_label = "uv venv + uv pip sync"
    rows = alternate(ctx, wl, [
        Bench("envsync apply (fresh venv)", lambda: [tools.envsync_step("apply", config)],
              setup=Once(lambda: ctx.run([tools.envsync_step("apply", config)])),
              prepare=lambda: set_aside(envsync_venv, trash), ratios={"÷ uv": uv_label}),
        Bench(uv_label, lambda: tools.uv_venv_sync(uv_venv, wl.pins_file),
              setup=Once(lambda: ctx.run(tools.uv_venv_sync(uv_venv, wl.pins_file))),
              prepare=lambda: set_aside(uv_venv, trash)),
        Bench("envsync plan, no-op", lambda: [tools.envsync_step("plan", config)],
              setup=Once(ensure_in_sync(ctx, config))),
        Bench("uv pip sync, no-op", lambda: [tools.uv_step("pip", "sync", "-q", "--python", str(venv_python(uv_venv)),
                                                           str(wl.pins_file), cwd=root)]),
    ])
    for row, venv in zip(rows, (envsync_venv, uv_venv, envsync_venv, uv_venv), strict=True):
        row.note = "; ".join(part for part in (count_dists(venv), row.note) if part)
    empty_set_aside(trash)
    return rows


SCALE_SCENARIOS = {
    s.name: s for s in [
        Scenario("cold-spread", "9. Cold-resolve spread",
                 "`envsync lock --upgrade` and `uv pip compile --upgrade` of the workload's `.in`, each with an "
                 "empty cache folder every run, alternating run by run (`--repeat` runs each; the goal is read "
                 "from ten). Notes: every run's seconds, the slowest, and envsync's slowest and median over uv's "
                 "median (goals: 1.5× and 1.2×).", cold_spread),
        Scenario("scale-envs", "10. Many envs",
                 "N = 1, 4, 16, 64 envs that each hold the workload's pins (caches warm). envsync: one `apply` "
                 "into fresh venvs, and `plan` when all are in sync. uv: N × `uv venv && uv pip sync`, one by one, "
                 "and side by side (N pairs started at once by `xargs -P N`); the rows of one N are measured in "
                 "turn, run by run. Peak RSS is the largest single process (for uv side by side: one of the N).",
                 scale_envs),
        Scenario("plan-base", "11. Reviewing a change: plan --base",
                 f"A git project of {BASE_ENVS} envs (the workload's pins each, locked and committed); the working "
                 "tree adds one package to one env and re-locks. Timed: `envsync plan --base HEAD` (caches warm; "
                 "goal: under one second).", plan_base),
        Scenario("scale-size", "12. Env size",
                 "One env of the workload's pins: `envsync apply` into a fresh venv against `uv venv && uv pip "
                 "sync` (measured in turn, run by run), and each tool's no-op (`envsync plan`, `uv pip sync` on "
                 "the synced venv, which asks the index). Run on small, medium, large and xl (534 distributions).",
                 scale_size),
    ]
}
