"""The shape of envs.toml as pydantic models, and pydantic's errors turned into ours.

Only imported when a config must really be validated: a config already seen is
loaded from the cache without pydantic (see config.load).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from envsync.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ProjectModel(_Strict):
    path: str = Field(".", min_length=1)
    editable: bool = True
    extras: list[str] = Field(default_factory=list)


class SettingsModel(_Strict):
    root: str = Field(".envs", min_length=1)
    python: str | None = Field(None, min_length=1)
    index_url: str = Field("https://pypi.org/simple", alias="index-url")
    extra_index_urls: list[str] = Field(default_factory=list, alias="extra-index-urls")
    find_links: list[str] = Field(default_factory=list, alias="find-links")
    prereleases: bool = False
    index_strategy: Literal["first-index", "unsafe-best-match"] = Field("first-index", alias="index-strategy")
    index_for: dict[str, str] = Field(default_factory=dict, alias="index-for")
    project: ProjectModel | None = None
    projects: list[ProjectModel] = Field(default_factory=list)
    seed: list[str] = Field(default_factory=list)
    environments: list[str] = Field(default_factory=list)
    python_downloads: Literal["automatic", "manual", "never"] = Field("automatic", alias="python-downloads")
    skip_missing_pythons: bool = Field(False, alias="skip-missing-pythons")
    env_vars: dict[str, str] = Field(default_factory=dict, alias="env-vars")

    @field_validator("seed")
    @classmethod
    def _check_seed(cls, values: list[str]) -> list[str]:
        return _seed_names(values)

    @field_validator("env_vars", mode="before")
    @classmethod
    def _check_env_vars(cls, value: object) -> object:
        return _env_vars(value)

    @field_validator("environments")
    @classmethod
    def _check_environments(cls, values: list[str]) -> list[str]:
        return _markers(values)

    @field_validator("project", mode="before")
    @classmethod
    def _project_path(cls, value: object) -> object:
        return _project_table(value)

    @field_validator("projects", mode="before")
    @classmethod
    def _project_paths(cls, value: object) -> object:
        return [_project_table(item) for item in value] if isinstance(value, list) else value


def _project_table(value: object) -> object:
    """`"packages/core"` is short for `{ path = "packages/core" }`."""
    return {"path": value} if isinstance(value, str) else value


def _seed_names(values: list[str]) -> list[str]:
    for position, value in enumerate(values):
        if value not in SEEDABLE:
            raise ValueError(f"[{position}] {value!r} can't be seeded: envsync seeds {', '.join(SEEDABLE)}")
    return values


SEEDABLE = ("pip", "setuptools", "wheel")

def _env_vars(value: object) -> object:
    from envsync.config.scripts import check_env_vars

    return check_env_vars(value) if isinstance(value, dict) else value


def _markers(values: list[str]) -> list[str]:
    from packaging.markers import InvalidMarker, Marker

    _all_parse(values, Marker, InvalidMarker, "marker")
    if len(set(values)) != len(values):
        raise ValueError("lists the same environment twice")
    return values


def _all_parse(values: list[str], parse: Any, invalid: type[Exception], what: str) -> list[str]:
    """`values`, once each parses as a PEP 508 `what`; else the first that doesn't, by position."""
    for position, text in enumerate(values):
        try:
            parse(text)
        except invalid as exc:
            reason = str(exc).splitlines()[0]
            raise ValueError(f"[{position}] {text!r} is not a valid PEP 508 {what}: {reason}") from None
    return values


class EnvModel(_Strict):
    python: str | None = Field(None, min_length=1)
    path: str | None = Field(None, min_length=1)
    dependencies: list[str] = Field(default_factory=list)
    inherits: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    project: ProjectModel | None = None
    projects: list[ProjectModel] | None = None
    requirements: list[str] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    solve_group: str | None = Field(None, alias="solve-group")
    seed: list[str] | None = None
    environments: list[str] | None = None
    # Validated (product, names, excludes) by config.matrix once the whole env is known.
    matrix: dict[str, list[str]] | None = None
    matrix_exclude: list[dict[str, str]] | None = Field(None, alias="matrix-exclude")
    # Named commands and variables for `run` (envsync/config/scripts.py says what a line means).
    scripts: dict[str, list[str]] = Field(default_factory=dict)
    env_vars: dict[str, str] = Field(default_factory=dict, alias="env-vars")

    @field_validator("seed")
    @classmethod
    def _check_seed(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _seed_names(values)

    @field_validator("scripts", mode="before")
    @classmethod
    def _check_scripts(cls, value: object) -> object:
        from envsync.config.scripts import check_scripts

        return check_scripts(value) if isinstance(value, dict) else value  # not a table: pydantic says so

    @field_validator("env_vars", mode="before")
    @classmethod
    def _check_env_vars(cls, value: object) -> object:
        return _env_vars(value)

    @field_validator("environments")
    @classmethod
    def _check_environments(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _markers(values)

    @field_validator("project", mode="before")
    @classmethod
    def _project_path(cls, value: object) -> object:
        return _project_table(value)

    @field_validator("projects", mode="before")
    @classmethod
    def _project_paths(cls, value: object) -> object:
        return [_project_table(item) for item in value] if isinstance(value, list) else value

    @field_validator("dependencies")
    @classmethod
    def _parse_requirements(cls, values: list[str]) -> list[str]:
        return _all_parse(values, Requirement, InvalidRequirement, "requirement")


class FileModel(_Strict):
    settings: SettingsModel = Field(default_factory=SettingsModel)
    envs: dict[str, EnvModel] = Field(default_factory=dict)


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_KNOWN_KEYS = {
    "settings": set(SettingsModel.model_fields) | {f.alias for f in SettingsModel.model_fields.values() if f.alias},
    "envs": set(EnvModel.model_fields) | {f.alias for f in EnvModel.model_fields.values() if f.alias},
    "": {"settings", "envs"},
    "project": set(ProjectModel.model_fields),
}


def config_error(path: Path, exc: ValidationError) -> ConfigError:
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        where = _key_path(loc)
        if error["type"] == "extra_forbidden":
            section = "" if len(loc) == 1 else ("settings" if loc[0] == "settings" else "envs")
            if "project" in loc[:-1] or "projects" in loc[:-1]:
                section = "project"
            known = sorted(k for k in _KNOWN_KEYS[section] if "_" not in k)
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
            lines.append(f"{where}: unknown key{hint}")
        elif error["type"] == "value_error":
            message = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
            if message.startswith(("[", ".")):  # "[2] ..." or ".cov[1] ...": a key below `where`
                below, _, rest = message.partition(" ")
                lines.append(f"{where}{below}: {rest}")
            else:
                lines.append(f"{where}: {message}")
        else:
            got = error.get("input")
            lines.append(f"{where}: {error['msg'].lower()} (got {got!r})" if got is not None
                         else f"{where}: {error['msg'].lower()}")
    return ConfigError(f"{path.name}: " + "; ".join(lines), "fix the key named above; every key is in envsync's docs/configuration.md")


