"""`.pth` files run code at every interpreter start: envsync names them in plan and apply."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_envsync, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec


def test_pth_files_are_named_in_apply_and_plan(tmp_path: Path, index: LocalIndex):
    index.add(WheelSpec("hooky", "1.0", files={"hooky.pth": "import hooky\n", "hooky/__init__.py": ""}))
    index.add(WheelSpec("plain", "1.0"))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.a]\ndependencies = ["hooky", "plain"]\n')
    applied = run_envsync("apply", cwd=project)
    assert applied.returncode == 0, applied.stderr
    assert "a: ! hooky 1.0 added startup hook hooky.pth" in applied.stdout
    assert "plain 1.0 added" not in applied.stdout
    site = next((project / ".envs" / "a").glob("lib/python*/site-packages"))
    assert (site / "hooky.pth").is_file()

    # A second env with the same package: its wheel is known now, so the plan names the hook.
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.a]\ndependencies = ["hooky", "plain"]\n'
                          '[envs.b]\ndependencies = ["hooky"]\n')
    plan = run_envsync("plan", "b", cwd=project)
    assert "! startup hook hooky.pth (from hooky 1.0)" in plan.stdout
    document = json.loads(run_envsync("plan", "--json", "b", cwd=project).stdout)
    assert document["envs"][0]["startup_hooks"] == [{"file": "hooky.pth", "package": "hooky 1.0"}]


def test_hooks_reaching_site_packages_by_any_path_are_named(tmp_path: Path, index: LocalIndex):
    """A .pth through the data scheme (to lib/pythonX.Y/site-packages/), through purelib, and a
    sitecustomize.py or usercustomize.py: each runs at every start, each is named."""
    import sys

    short = f"{sys.version_info.major}.{sys.version_info.minor}"
    index.add(WheelSpec("sneaky", "1.0", files={"sneaky/__init__.py": "", "sitecustomize.py": "X = 1\n"},
                        extra_entries=[(f"sneaky-1.0.data/data/lib/python{short}/site-packages/hidden.pth",
                                        b"import sneaky\n"),
                                       ("sneaky-1.0.data/purelib/usercustomize.py", b"Y = 1\n")]))
    project = tmp_path / "project"
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.a]\npython = "{short}"\n'
                          'dependencies = ["sneaky"]\n')
    applied = run_envsync("apply", cwd=project)
    assert applied.returncode == 0, applied.stderr
    for hook in ("hidden.pth", "sitecustomize.py", "usercustomize.py"):
        assert f"a: ! sneaky 1.0 added startup hook {hook}" in applied.stdout
    site = next((project / ".envs" / "a").glob("lib/python*/site-packages"))
    assert (site / "hidden.pth").is_file()  # it really lands where Python reads it
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.a]\npython = "{short}"\n'
                          'dependencies = ["sneaky"]\n[envs.b]\ndependencies = ["sneaky"]\n')
    plan = run_envsync("plan", "b", cwd=project)
    assert "! startup hook hidden.pth (from sneaky 1.0)" in plan.stdout
    assert "! startup hook sitecustomize.py (from sneaky 1.0)" in plan.stdout
def test_the_own_projects_editable_hook_is_named_under_plan_v_not_warned(tmp_path: Path, build_index: LocalIndex):
    """setuptools' editable install adds `__editable__.myapp-0.1.0.pth`: the env's own project's hook is
    no warning, and named once under `plan -v`. Ownership decides, not the name: a dependency whose hook
    is called `__editable__.sneaky.pth` is still warned about."""
    build_index.add(WheelSpec("sneaky", "1.0", files={"__editable__.sneaky.pth": "import sneaky\n",
                                                      "sneaky/__init__.py": ""}))
    project = tmp_path / "project"
    (project / "src" / "myapp").mkdir(parents=True)
    (project / "src" / "myapp" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=64"]\n'
                                           'build-backend = "setuptools.build_meta"\n'
                                           '[project]\nname = "myapp"\nversion = "0.1.0"\ndependencies = ["sneaky"]\n')
    write_config(project, f'[settings]\nindex-url = "{build_index.url}"\n[envs.a]\nproject = "."\n')
    applied = run_envsync("apply", cwd=project, timeout=600)
    assert applied.returncode == 0, applied.stderr
    assert "a: ! sneaky 1.0 added startup hook __editable__.sneaky.pth" in applied.stdout
    assert "myapp" not in "".join(line for line in applied.stdout.splitlines() if "startup hook" in line)
    site = next((project / ".envs" / "a").glob("lib/python*/site-packages"))
    own = [path.name for path in site.glob("__editable__*myapp*.pth")]
    assert own, "setuptools wrote its editable hook"

    assert "startup hook" not in run_envsync("plan", cwd=project).stdout
    verbose = run_envsync("plan", "-v", cwd=project).stdout
    assert verbose.count(f"startup hook {own[0]} (from myapp 0.1.0, this env's own project)") == 1
    assert "sneaky" not in verbose  # installed already: nothing to warn about in this plan
