"""Receiver entries of `ownership.yaml` (the `receivers:` list), one model per receiver type.

Secrets are `${VAR}` references filled from the environment by the ownership loader before
validation, and held as `SecretStr` so they never reach a log or an API answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr


class _Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")


class SlackReceiver(_Receiver):
    """Slack incoming webhook, Block Kit messages, at most `max_per_second` (Slack allows 1/s)."""

    type: Literal["slack"]
    url: SecretStr
    channel: str | None = None
    max_per_second: float = Field(default=1.0, gt=0, le=1.0)


class PagerDutyReceiver(_Receiver):
    """PagerDuty Events API v2: trigger, acknowledge and resolve follow the incident."""

    type: Literal["pagerduty"]
    routing_key: SecretStr
    url: HttpUrl = HttpUrl("https://events.pagerduty.com/v2/enqueue")


class WebhookReceiver(_Receiver):
    """Any HTTPS endpoint, signed with Standard Webhooks."""

    type: Literal["webhook"]
    url: HttpUrl
    secret: SecretStr


class AlertmanagerReceiver(_Receiver):
    """Prometheus Alertmanager, `POST /api/v2/alerts`."""

    type: Literal["alertmanager"]
    url: HttpUrl


class LogReceiver(_Receiver):
    """Appends each notification as a JSON line to a file: the demo's and tests' local sink."""

    type: Literal["log"]
    path: str


ReceiverConfig = Annotated[
    SlackReceiver | PagerDutyReceiver | WebhookReceiver | AlertmanagerReceiver | LogReceiver,
    Field(discriminator="type"),
]
