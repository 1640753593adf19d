"""One marker helper, the policy for a marker that can't be evaluated said at each call."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import Marker

from envsync.errors import BuildFailed, ConfigError
from envsync.resolve.markers import marker_holds

ENVIRONMENT = {"python_version": "3.12", "platform_release": "6.8.0-generic", "sys_platform": "linux"}
UNEVALUABLE = Marker("platform_release ~= 'x'")  # parses, but compares a value that is not a version


def test_a_marker_that_evaluates_ignores_the_policy():
    assert marker_holds(Marker("python_version >= '3.11'"), ENVIRONMENT, if_unevaluable=False)
    assert not marker_holds(Marker("sys_platform == 'win32'"), ENVIRONMENT, if_unevaluable=True)
    assert marker_holds(None, ENVIRONMENT, if_unevaluable=False)
    assert marker_holds(Marker("extra == 'test'"), ENVIRONMENT, extra="test", if_unevaluable=False)


@pytest.mark.parametrize("answer", [True, False])
def test_an_unevaluable_marker_gives_the_answer_the_caller_chose(answer: bool):
    assert marker_holds(UNEVALUABLE, ENVIRONMENT, if_unevaluable=answer) is answer


def test_an_unevaluable_marker_raises_the_error_the_caller_makes():
    with pytest.raises(ConfigError, match="bad marker: .*6.8.0-generic"):
        marker_holds(UNEVALUABLE, ENVIRONMENT, if_unevaluable=lambda exc: ConfigError(f"bad marker: {exc}"))


def test_a_backends_dynamic_build_requirement_with_an_unevaluable_marker_is_a_build_error(tmp_path: Path):
    """It was an uncaught UndefinedComparison: an internal error."""
    from envsync.build.pep517 import _satisfied
    from envsync.pythons.interpreters import find_interpreter

    interpreter = find_interpreter(None, tmp_path)
    with pytest.raises(BuildFailed, match=r"mypkg 1\.0: its build backend asks for"):
        _satisfied("wheel; platform_release ~= 'x'", tmp_path, interpreter, "mypkg 1.0")
