"""Collector settings and the channels file (who may send, for which brands, how fast)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cxpulse_shared.settings import reject_placeholder

_ENV_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


class CollectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COLLECTOR_", extra="ignore")

    channels_file: Path = Path("config/channels.yaml")
    pseudonymisation_key: SecretStr = Field(description="keyed hash for customer_id; COLLECTOR_PSEUDONYMISATION_KEY")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_text_chars: int = Field(default=10_000, ge=1)
    max_batch_events: int = Field(default=1_000, ge=1)
    publish_timeout_s: float = Field(default=5.0, gt=0)
    publish_linger_ms: int = Field(
        default=0,
        ge=0,
        description="the producer's linger: none, because the collector hands the producer each loop "
        "turn's events as one batch, and a webhook waits for the broker",
    )
    redis_timeout_s: float = Field(default=2.0, gt=0)
    dedupe_ttl_hours: int = Field(default=72, ge=72, description="claims of published events live at least 72 h")
    pending_claim_ttl_s: int = Field(default=60, ge=5)
    retry_after_s: int = Field(default=2, ge=1)

    @field_validator("pseudonymisation_key")
    @classmethod
    def _real_key(cls, value: SecretStr) -> SecretStr:
        return reject_placeholder(value, name="COLLECTOR_PSEUDONYMISATION_KEY")


class Channel(BaseModel):
    """A configured sender: a survey tool account, a listening feed, a source-native webhook."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    source: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="whose ids this channel speaks for")
    secrets: tuple[SecretStr, ...] = Field(min_length=1, description="several during a rotation")
    brands: tuple[str, ...] = Field(default=("*",), description="brands it may post for; '*' for any")
    default_brand: str | None = Field(default=None, description="brand of source-native payloads")
    rate_limit_per_s: float | None = Field(default=10.0, gt=0, description="requests per second; null for none")
    burst: int = Field(default=20, ge=1)
    options: dict[str, Any] = Field(default_factory=dict, description="source-specific adapter options")

    @field_validator("secrets")
    @classmethod
    def _real_secrets(cls, values: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        return tuple(reject_placeholder(value, name="channel secret") for value in values)

    def may_post_for(self, brand: str) -> bool:
        return "*" in self.brands or brand in self.brands


class ChannelsFileInvalid(ValueError):
    pass


def _interpolate(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """Fills `${VAR}` in string values only, so comments and keys are never touched."""
    if isinstance(value, dict):
        return {key: _interpolate(item, environ, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, environ, f"{where}[{index}]") for index, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ChannelsFileInvalid(f"{where}: environment variable {name} is not set")
        return environ[name]

    return _ENV_REFERENCE.sub(replace, value)


def load_channels(path: Path, environ: dict[str, str] | None = None) -> dict[str, Channel]:
    """Secrets stay out of the file: `${VAR}` references are filled from the environment."""
    document = yaml.safe_load(path.read_text()) or {}
    environment = os.environ if environ is None else environ
    entries = _interpolate(document.get("channels", []), environment, str(path))
    channels: dict[str, Channel] = {}
    for index, entry in enumerate(entries):
        try:
            channel = Channel.model_validate(entry)
        except ValidationError as error:
            raise ChannelsFileInvalid(f"{path}: channels[{index}]: {error}") from error
        if channel.name in channels:
            raise ChannelsFileInvalid(f"{path}: channel {channel.name!r} is defined twice")
        channels[channel.name] = channel
    return channels
