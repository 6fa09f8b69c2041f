"""Settings split by concern; each service composes the ones it needs.

Nothing is read at import time: a service builds its settings inside `create_app()` (or a
test passes its own), so two apps with different settings can live in one process.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "placeholder", "todo", "xxx"})


def reject_placeholder(value: SecretStr, *, name: str) -> SecretStr:
    """Services refuse to start with a placeholder secret rather than run unprotected."""
    if value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{name} is empty or a placeholder; configure a real secret")
    return value


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "cxpulse"
    linger_ms: int = Field(default=5, ge=0)
    batch_size_bytes: int = Field(default=262_144, ge=1024)
    request_timeout_ms: int = Field(default=10_000, ge=100)
    security_protocol: str = "PLAINTEXT"
    partitions: int = Field(default=12, ge=1, description="partitions of topics the local stack creates")


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDIS_", extra="ignore")

    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    socket_timeout_s: float = Field(default=2.0, gt=0)


class TelemetrySettings(BaseSettings):
    """Only the standard OTEL_* variables configure tracing."""

    model_config = SettingsConfigDict(env_prefix="OTEL_", extra="ignore")

    service_name: str | None = None
    sdk_disabled: bool = False


class LoggingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CXPULSE_", extra="ignore")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class ApiAuthSettings(BaseSettings):
    """Bearer tokens of the non-webhook APIs: `CXPULSE_API_TOKEN` is the operator's."""

    model_config = SettingsConfigDict(env_prefix="CXPULSE_", extra="ignore")

    api_token: SecretStr
    team_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="team name -> token, JSON in CXPULSE_TEAM_TOKENS"
    )

    @field_validator("api_token")
    @classmethod
    def _real_operator_token(cls, value: SecretStr) -> SecretStr:
        return reject_placeholder(value, name="CXPULSE_API_TOKEN")
