"""Against the real PyPI: skipped unless asked for with `pytest -m network`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import installed, run_envsync, write_config

pytestmark = pytest.mark.network


def test_apply_a_small_env_from_pypi(tmp_path: Path):
    write_config(tmp_path, '[envs.tools]\ndependencies = ["requests>=2.31", "rich"]\n')
    result = run_envsync("apply", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    env = tmp_path / ".envs" / "tools"
    have = installed(env)
    assert {"requests", "rich", "urllib3", "idna", "certifi", "charset-normalizer"} <= set(have)
    check = subprocess.run([str(env / "bin" / "python"), "-c", "import requests, rich; print(requests.__version__)"],
                           capture_output=True, text=True, check=True)
    assert check.stdout.strip() == have["requests"]
    plan = run_envsync("plan", "--json", "--refresh", cwd=tmp_path)
    assert json.loads(plan.stdout)["envs"][0]["actions"] == []


def test_example_webapp_config_plans(tmp_path: Path):
    example = Path(__file__).resolve().parent.parent / "examples" / "webapp.envs.toml"
    (tmp_path / "envs.toml").write_text(example.read_text())
    result = run_envsync("plan", "--json", "prod", cwd=tmp_path, timeout=600)
    if "no interpreter" in result.stderr.lower():
        pytest.skip(result.stderr)
    assert result.returncode == 0, result.stderr
    packages = {a["package"] for a in json.loads(result.stdout)["envs"][0]["actions"] if "package" in a}
    assert {"django", "djangorestframework", "psycopg", "psycopg-binary", "redis"} <= packages
