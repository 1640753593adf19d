"""Installing the packages of one env side by side: wheels writing a common file go one after
another, and packages complete (and are reported) in plan order, whatever the threads did."""

from __future__ import annotations

from pathlib import Path

from helpers import installed, run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

from envsync.install.side_by_side import chains, longest_first


def test_installs_writing_a_common_path_form_one_chain_in_plan_order():
    writes = [{"a/x.py"}, {"b/y.py"}, {"c/z.py", "shared/__init__.py"}, {"d.py"}, {"shared/__init__.py"},
              {"b/y.py", "e.py"}, {"e.py"}]
    assert chains(writes) == [[0], [1, 5, 6], [2, 4], [3]]


def test_no_common_path_means_one_chain_each_and_none_means_none():
    assert chains([{"a"}, {"b"}, set()]) == [[0], [1], [2]]
    assert chains([]) == []


def test_the_chain_with_the_most_files_starts_first_and_equal_ones_keep_plan_order():
    writes = [{"a.py"}, {"django/a.py", "django/b.py", "django/c.py"}, {"b.py"}, {"s/x.py", "s/y.py"},
              {"s/x.py"}, {"c.py"}]
    assert longest_first(chains(writes), writes) == [[1], [3, 4], [0], [2], [5]]


def test_packages_of_one_env_are_reported_in_plan_order(tmp_path: Path, index: LocalIndex):
    # Sizes differ a lot, so side by side the small ones are placed before the big ones.
    names = [f"pkg{n:02d}" for n in range(12)]
    for n, name in enumerate(names):
        files = {f"{name}/m{i}.py": f"V = {i}\n" for i in range(1 if n % 2 else 150)}
        index.add(WheelSpec(name, "1.0", files=files))
    deps = ", ".join(f'"{name}"' for name in names)
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = [{deps}]\n')
    planned = run_envsync("plan", cwd=project)
    order = [line.split()[-2] for line in planned.stdout.splitlines() if "install" in line and "pkg" in line]
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    done = [line.split()[3] for line in result.stdout.splitlines() if line.startswith("dev: + install")]
    assert done == order == sorted(names)
    assert installed(project / ".envs" / "dev") == {name: "1.0" for name in names}
