"""The agent's configuration, in one place.

Sources, later ones win (spatialclaw_ros/settings.py): the defaults below < a YAML file <
environment variables < overrides (what CLI flags and ROS parameters pass in). Environment
variables are `SPATIALCLAW_<FIELD>` for top-level fields and `SPATIALCLAW_VLM_<FIELD>` for the VLM
endpoint, e.g. `SPATIALCLAW_MAX_STEPS=10`, `SPATIALCLAW_VLM_BASE_URL=http://gpu-box:8000/v1`.
The YAML file is `path`, else `$SPATIALCLAW_CONFIG`, else none; config/agent.yaml documents
every field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from spatialclaw_ros.settings import FileSettings

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
    base_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
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


class AgentConfig(FileSettings):
    """Everything an episode's behaviour depends on besides the VLM and perception themselves."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="_", env_nested_max_split=1
    )
    area = "agent"
    file_variable = ENV_PREFIX + "CONFIG"

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
