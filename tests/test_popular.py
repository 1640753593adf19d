"""Popular binary wheels from the real PyPI install and import: skipped unless `pytest -m network`.

These are the wheels that stress the installer: bundled shared libraries compressed far
beyond any ratio a text file reaches (Pillow, OpenCV), tens of thousands of files (SciPy,
PyArrow), console scripts and .data folders. A few hundred MB are downloaded once per cache.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import installed, python_path, run_envsync, write_config

pytestmark = pytest.mark.network

# distribution -> the module it is imported as
POPULAR = {
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "pillow": "PIL",
    "scikit-learn": "sklearn",
    "pyarrow": "pyarrow",
    "polars": "polars",
    "opencv-python-headless": "cv2",
    "lxml": "lxml.etree",
    "cryptography": "cryptography.hazmat.primitives.ciphers",
    "grpcio": "grpc",
}

# Imports each module with the env's own interpreter and prints what it found.
_IMPORT_ALL = """
import importlib, json, sys
done = {}
for module in sys.argv[1:]:
    importlib.import_module(module)
    done[module] = True
print(json.dumps(done))
"""


def test_popular_binary_wheels_apply_and_import_on_python_311(tmp_path: Path):
    python = python_path("3.11")
    if python is None:
        pytest.skip("needs CPython 3.11 under ~/.pyenv/versions")
    dependencies = ", ".join(f'"{name}"' for name in POPULAR)
    write_config(tmp_path, f'[envs.popular]\npython = "{python}"\ndependencies = [{dependencies}]\n')
    cache = os.environ.get("ENVSYNC_POPULAR_CACHE")  # reuse downloads across runs when set
    extra = {"ENVSYNC_CACHE_DIR": cache} if cache else None
    result = run_envsync("apply", cwd=tmp_path, env=extra, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    env = tmp_path / ".envs" / "popular"
    assert set(POPULAR) <= set(installed(env))
    check = subprocess.run([str(env / "bin" / "python"), "-I", "-c", _IMPORT_ALL, *POPULAR.values()],
                           capture_output=True, text=True, timeout=600, check=False)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout) == dict.fromkeys(POPULAR.values(), True)
    again = run_envsync("plan", "--json", "--refresh", cwd=tmp_path, env=extra, timeout=600)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["envs"][0]["actions"] == []


# Packages whose newest release publishes macOS wheels for macOS 15 only (opencv-python-headless
# 5.1.0.95 on PyPI at the time of writing): a lock for macOS 14 and newer (the baseline envsync assumes,
# as torch's wheels need) carries their sdist for macOS: no wheel of that release installs there.
MACOS_15_ONLY = {"opencv-python-headless"}


def test_popular_packages_lock_for_linux_macos_and_windows_at_once(tmp_path: Path):
    """One lock for Linux (x86_64, aarch64), macOS arm64 and Windows: each popular package gets a
    wheel for every one of them, and nothing is built to make the lock."""
    import tomllib

    python = python_path("3.12")
    if python is None:
        pytest.skip("needs CPython 3.12 under ~/.pyenv/versions")
    dependencies = ", ".join(f'"{name}"' for name in POPULAR)
    environments = '["sys_platform == \'linux\'", "sys_platform == \'darwin\'", "sys_platform == \'win32\'"]'
    write_config(tmp_path, f'[settings]\nenvironments = {environments}\n'
                           f'[envs.popular]\npython = "{python}"\ndependencies = [{dependencies}]\n')
    result = run_envsync("lock", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Linux x86_64, Linux aarch64, macOS arm64, Windows AMD64" in result.stdout + result.stderr
    document = tomllib.loads((tmp_path / "pylock.popular.toml").read_text())
    packages = {package["name"]: package for package in document["packages"]}
    for package in document["packages"]:
        wheels = [wheel["name"] for wheel in package.get("wheels", [])]
        platforms = ("x86_64", "aarch64", "macosx", "win_amd64")
        if package["name"] in MACOS_15_ONLY:  # macOS arm64 (14, the baseline assumed) can only build it
            assert "sdist" in package and not any("macosx" in wheel for wheel in wheels), package["name"]
            platforms = ("x86_64", "aarch64", "win_amd64")
        else:
            assert "sdist" not in package, package["name"]
        if any(wheel.endswith("-none-any.whl") for wheel in wheels):
            assert len(wheels) == 1, (package["name"], wheels)  # a pure wheel serves every platform
            continue
        for platform in platforms:
            assert any(platform in wheel for wheel in wheels), (package["name"], platform, wheels)
    assert set(POPULAR) <= set(packages)
