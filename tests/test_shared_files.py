"""Files two wheels ship with the same bytes are shared; a file with other bytes is refused
before the env is touched; an apply's own removals free the files its installs take over."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import installed, run_envsync, venv_python, write_config
from localindex import LocalIndex
from wheelfactory import WheelSpec

EMPTY_INIT = {"nvidia/__init__.py": ""}


def _config(project: Path, index: LocalIndex, dependencies: list[str]) -> None:
    listed = ", ".join(f'"{name}"' for name in dependencies)
    write_config(project, f'[settings]\nindex-url = "{index.url}"\n[envs.dev]\ndependencies = [{listed}]\n')


def _run(env: Path, code: str) -> str:
    return subprocess.run([str(venv_python(env)), "-I", "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def test_wheels_sharing_an_identical_namespace_init_install_together_and_leave_one_at_a_time(
        project: Path, index: LocalIndex) -> None:
    index.add(WheelSpec("nvidia-cublas-cu12", "12.8.4",
                        files={**EMPTY_INIT, "nvidia/cublas/__init__.py": "NAME = 'cublas'\n"}))
    index.add(WheelSpec("nvidia-cudnn-cu12", "9.10.2",
                        files={**EMPTY_INIT, "nvidia/cudnn/__init__.py": "NAME = 'cudnn'\n"}))
    _config(project, index, ["nvidia-cublas-cu12", "nvidia-cudnn-cu12"])
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    env = project / ".envs" / "dev"
    assert _run(env, "import nvidia.cublas, nvidia.cudnn; print(nvidia.cublas.NAME, nvidia.cudnn.NAME)") \
        == "cublas cudnn"
    assert run_envsync("plan", "--refresh", "--detailed-exitcode", cwd=project).returncode == 0

    _config(project, index, ["nvidia-cudnn-cu12"])
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    site = next((env / "lib").glob("python*/site-packages"))
    assert (site / "nvidia" / "__init__.py").is_file()  # cudnn still lists it
    assert not (site / "nvidia" / "cublas").exists()
    assert _run(env, "import nvidia.cudnn; print(nvidia.cudnn.NAME)") == "cudnn"
    assert run_envsync("plan", "--refresh", "--detailed-exitcode", cwd=project).returncode == 0

    _config(project, index, [])
    assert run_envsync("apply", cwd=project).returncode == 0
    assert not (site / "nvidia").exists()  # the last one to list it takes it


def test_swapping_opencv_for_its_headless_twin_in_one_apply(project: Path, index: LocalIndex) -> None:
    same = {"cv2/data/haarcascade.xml": "<cascade/>\n", "cv2/version.py": "opencv_version = '4.12'\n"}
    index.add(WheelSpec("opencv-python", "4.12.0.88", files={**same, "cv2/__init__.py": "KIND = 'gui'\n"}))
    index.add(WheelSpec("opencv-python-headless", "4.12.0.88",
                        files={**same, "cv2/__init__.py": "KIND = 'headless'\n"}))
    _config(project, index, ["opencv-python"])
    assert run_envsync("apply", cwd=project).returncode == 0
    env = project / ".envs" / "dev"
    _config(project, index, ["opencv-python-headless"])
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(env) == {"opencv-python-headless": "4.12.0.88"}
    assert _run(env, "import cv2, cv2.version; print(cv2.KIND, cv2.version.opencv_version)") == "headless 4.12"
    site = next((env / "lib").glob("python*/site-packages"))
    assert (site / "cv2" / "data" / "haarcascade.xml").is_file()
    assert run_envsync("plan", "--refresh", "--detailed-exitcode", cwd=project).returncode == 0


def test_a_real_conflict_is_refused_before_the_env_is_touched(project: Path, index: LocalIndex) -> None:
    index.add(WheelSpec("alpha", "1.0", files={"common/tool.py": "WHO = 'alpha'\n"}))
    index.add(WheelSpec("beta", "1.0"))  # installed first, in name order, when nothing is checked up front
    index.add(WheelSpec("gamma", "1.0", files={"common/tool.py": "WHO = 'gamma'\n"}))
    _config(project, index, ["alpha"])
    assert run_envsync("apply", cwd=project).returncode == 0
    env = project / ".envs" / "dev"
    _config(project, index, ["alpha", "beta", "gamma"])
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 1
    assert "gamma 1.0" in result.stderr and "common/tool.py" in result.stderr and "alpha 1.0" in result.stderr
    assert "Traceback" not in result.stderr
    assert installed(env) == {"alpha": "1.0"}
    assert _run(env, "import common.tool; print(common.tool.WHO)") == "alpha"


def test_two_new_wheels_writing_one_path_differently_are_refused_before_the_env_exists(
        project: Path, index: LocalIndex) -> None:
    index.add(WheelSpec("alpha", "1.0", files={"common/tool.py": "WHO = 'alpha'\n"}))
    index.add(WheelSpec("gamma", "1.0", files={"common/tool.py": "WHO = 'gamma'\n"}))
    _config(project, index, ["alpha", "gamma"])
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 1
    assert "alpha 1.0" in result.stderr and "gamma 1.0" in result.stderr and "different contents" in result.stderr
    assert not (project / ".envs" / "dev").exists()


def test_many_wheels_sharing_a_namespace_init_installed_side_by_side_all_list_it(
        project: Path, index: LocalIndex) -> None:
    names = [f"nvidia-part{n}-cu12" for n in range(10)]
    for n, name in enumerate(names):
        index.add(WheelSpec(name, "1.0", files={**EMPTY_INIT, f"nvidia/part{n}/__init__.py": f"N = {n}\n"}))
    _config(project, index, names)
    result = run_envsync("apply", cwd=project)
    assert result.returncode == 0, result.stderr
    env = project / ".envs" / "dev"
    site = next((env / "lib").glob("python*/site-packages"))
    listing = [record for record in site.glob("nvidia_part*.dist-info/RECORD")
               if "nvidia/__init__.py," in record.read_text()]
    assert len(listing) == len(names)
    assert _run(env, "import nvidia.part0, nvidia.part9; print(nvidia.part0.N + nvidia.part9.N)") == "9"
    assert run_envsync("plan", "--refresh", "--detailed-exitcode", cwd=project).returncode == 0
