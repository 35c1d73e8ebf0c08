"""How every area's settings are loaded: the defaults, declared once on the settings class < a YAML
file < environment variables < explicit values (command-line flags, ROS parameters, keyword
arguments). pydantic-settings merges the sources, nested mappings key by key; this module adds the
YAML file chosen per call and errors that name the setting.

    AgentConfig.load("config/agent.yaml", {"vlm.model": "from-a-flag", "max_steps": None})

None among the explicit values means "not given", so an unset flag leaves the file's value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from typing_extensions import Self

# The YAML file of the `load` call in progress: pydantic-settings builds the sources inside the
# constructor, which takes no file argument. A context variable keeps concurrent loads apart.
_yaml_file: ContextVar[Path | None] = ContextVar("settings_yaml_file", default=None)


class FileSettings(BaseSettings):
    """Base of the settings classes: set `env_prefix` in `model_config`, and the class variables
    below."""

    model_config = SettingsConfigDict(extra="forbid", validate_assignment=True)

    area: ClassVar[str] = "settings"  # for messages: "invalid agent settings: ..."
    error: ClassVar[type[ValueError]] = ValueError  # what an invalid value raises
    # The YAML mapping that holds this class's settings when the file nests them ("perception:"
    # in config/perception.yaml); a file without that key holds them at the top.
    yaml_section: ClassVar[str] = ""
    # The environment variable naming the YAML file when `load` is given none.
    file_variable: ClassVar[str] = ""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = _describe(exc, type(self))
            raise self.error(f"invalid {self.area} settings: {problems}") from None

    @classmethod
    def load(
        cls, path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Self:
        """The settings from `path` (else the file `file_variable` names, else none), the
        environment and `overrides`, later ones winning. `overrides` may be nested ({"vlm":
        {"model": ...}}) or dotted ({"vlm.model": ...})."""
        path = path or (os.environ.get(cls.file_variable) if cls.file_variable else None)
        if path and not Path(path).is_file():
            raise cls.error(f"{cls.area} settings file {path} does not exist")
        given = _nest({k: v for k, v in (overrides or {}).items() if v is not None})
        token = _yaml_file.set(Path(path) if path else None)
        try:
            return cls(**given)
        finally:
            _yaml_file.reset(token)

    def updated(self, **changes: Any) -> Self:
        """A copy with `changes`, validated like any other value (a copy by `model_copy` is
        not)."""
        return type(self)(**{**self.model_dump(), **changes})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _yaml_file.get()
        from_file = _read_yaml(path, cls) if path else {}
        return init_settings, env_settings, InitSettingsSource(settings_cls, from_file)


def _read_yaml(path: Path, cls: type[FileSettings]) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise cls.error(f"{cls.area} settings file {path} is not valid YAML: {exc}") from None
    if isinstance(loaded, dict) and cls.yaml_section in loaded:
        loaded = loaded[cls.yaml_section] or {}
    if not isinstance(loaded, dict):
        raise cls.error(f"{cls.area} settings file {path} must hold a mapping of settings")
    return loaded


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        head, _, rest = key.partition(".")
        if rest:
            value = {rest: value}
        if isinstance(value, Mapping):
            below = nested.get(head)
            nested[head] = {**(below if isinstance(below, dict) else {}), **_nest(value)}
        else:
            nested[head] = value
    return nested


def _describe(exc: ValidationError, cls: type[FileSettings]) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            known = f" (known: {', '.join(cls.model_fields)})" if len(error["loc"]) == 1 else ""
            problems.append(f"unknown setting {where}{known}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)
