"""The agent's configuration, in one place.

Sources, later ones win: defaults below < a YAML file < environment variables < overrides
(what CLI flags and ROS parameters pass in). Environment variables are `SPATIALCLAW_<FIELD>`
for top-level fields and `SPATIALCLAW_VLM_<FIELD>` for the VLM endpoint, e.g.
`SPATIALCLAW_MAX_STEPS=10`, `SPATIALCLAW_VLM_BASE_URL=http://gpu-box:8000/v1`.
The YAML file is `path`, else `$SPATIALCLAW_CONFIG`, else none; config/agent.yaml documents
every field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Executor = Literal["code", "no_tools", "single_pass", "tool_calls", "rules"]
EXECUTORS: tuple[str, ...] = get_args(Executor)
ENV_PREFIX = "SPATIALCLAW_"


class VLMConfig(BaseModel):
    """An OpenAI-compatible chat endpoint (vLLM by default)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base_url: str = "http://127.0.0.1:8000/v1"
    # Several servers of the same model (e.g. one vLLM per node): when given, requests go to the
    # one with the fewest outstanding and fail over between them (agent/endpoints.py); base_url
    # is unused.
    # In the environment: comma-separated.
    base_urls: list[str] = Field(default_factory=list)
    model: str = "Qwen/Qwen3.6-27B"
    api_key: str = "EMPTY"  # vLLM accepts anything unless started with --api-key
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0)
    retry_backoff_s: float = Field(1.0, ge=0)  # doubles after each failed try
    max_image_px: int = Field(768, ge=32)  # long edge of every image sent
    # per reply; thinking models spend thousands of tokens before the cell, so 4096 cut replies
    # short. The server must fit the prompt plus this in its context (vLLM --max-model-len).
    max_tokens: int = Field(16384, ge=16)
    temperature: float = Field(0.0, ge=0)
    # tool_calls executor: also offer its tools as OpenAI function definitions (`tools=`), for a
    # server started with a tool parser (vLLM --enable-auto-tool-choice --tool-call-parser ...).
    # Off by default: such a request fails on a server without one. Calls written in the reply
    # text (```json, <tool_call>) are read either way.
    native_tools: bool = False

    @field_validator("base_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return (
            [u.strip() for u in value.split(",") if u.strip()] if isinstance(value, str) else value
        )


class AgentConfig(BaseModel):
    """Everything an episode's behaviour depends on besides the VLM and perception themselves."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    executor: Executor = "code"
    vlm: VLMConfig = Field(default_factory=VLMConfig)
    max_steps: int = Field(30, ge=1)
    max_failures: int = Field(30, ge=1)  # failed cells before the loop gives up
    episode_timeout_s: float = Field(1800.0, gt=0)
    cell_timeout_s: float = Field(600.0, gt=0)
    # The kernel's containment (docs/kernel.md): refuse to run cells when a layer (identity,
    # network, filesystem, seccomp) is missing here, unless explicitly allowed; and how many
    # contained kernels to keep started ahead of the next episode.
    allow_weaker_sandbox: bool = False
    warm_kernels: int = Field(2, ge=0)
    max_prompt_frames: int = Field(32, ge=1)  # key frames shown to the cell writer per video
    max_feedback_images: int = Field(6, ge=0)  # images attached to one feedback message
    max_feedback_chars: int = Field(6000, ge=200)
    fallback: bool = True  # one direct VLM answer when the step budget ends unanswered
    # Where episode traces go. None (or "", "none", "off") writes none: the library leaves no
    # files behind unless asked; `spatialclaw ask`, `spatialclaw eval` and the ROS node pass a
    # folder.
    trace_dir: str | None = None

    @field_validator("trace_dir", mode="before")
    @classmethod
    def _trace_off(cls, value: Any) -> Any:
        return (
            None
            if isinstance(value, str) and value.strip().lower() in ("", "none", "null", "off")
            else value
        )

    @classmethod
    def load(
        cls, path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
    ) -> AgentConfig:
        """Defaults < YAML (`path` or $SPATIALCLAW_CONFIG) < SPATIALCLAW_* env < `overrides`.

        `overrides` may be nested ({"vlm": {"model": ...}}) or dotted ({"vlm.model": ...});
        None values are ignored so unset CLI flags do not clobber the file.
        """
        data: dict[str, Any] = {}
        path = path or os.environ.get(ENV_PREFIX + "CONFIG")
        if path:
            _merge(data, _read_yaml(Path(path)))
        _merge(data, _from_env(os.environ))
        if overrides:
            _merge(data, _nest({k: v for k, v in overrides.items() if v is not None}))
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"invalid agent configuration: {_short(exc)}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"agent config file {path} does not exist")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"agent config file {path} is not valid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"agent config file {path} must hold a mapping of settings")
    return loaded


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """SPATIALCLAW_VLM_MODEL -> {"vlm": {"model": ...}}; only names that are fields count, so
    unrelated SPATIALCLAW_* variables (other areas' settings) are left alone."""
    found: dict[str, Any] = {}
    vlm_fields = set(VLMConfig.model_fields)
    top_fields = set(AgentConfig.model_fields) - {"vlm"}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name.startswith("vlm_") and name[4:] in vlm_fields:
            found.setdefault("vlm", {})[name[4:]] = value
        elif name in top_fields:
            found[name] = value
    return found


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        head, _, rest = key.partition(".")
        if rest:
            _merge(nested, {head: _nest({rest: value})})
        elif isinstance(value, Mapping):
            _merge(nested, {head: _nest(value)})
        else:
            nested[head] = value
    return nested


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
