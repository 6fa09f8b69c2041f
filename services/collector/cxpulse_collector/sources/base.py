"""The contract every source-native webhook adapter fulfils.

Adding a source is one module in this package that defines a `SourceAdapter` subclass plus its
fixtures under `tests/fixtures/sources/<slug>/`; `registry.py` discovers it by its `slug`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from cxpulse_contracts import MentionSubmission, SurveySubmission

Submission = SurveySubmission | MentionSubmission


class SignatureInvalid(Exception):
    """The request is not provably from the source: answered 401, never parsed."""


class PayloadInvalid(Exception):
    """A signed payload that cannot become events: answered 422 with every reason."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class SourceRequest:
    """What an adapter may look at; header names are lower-case."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class ChannelContext:
    """The configured channel a delivery arrived on: its brand and source-specific options."""

    name: str
    brand: str
    options: Mapping[str, Any] = field(default_factory=dict)


class SourceAdapter(ABC):
    slug: ClassVar[str]
    #: True when the source needs `GET /v1/webhooks/{slug}` answered (a challenge, e.g. X's CRC).
    answers_challenge: ClassVar[bool] = False

    @abstractmethod
    def verify(self, request: SourceRequest, secrets: Sequence[str], *, now: datetime) -> None:
        """Raise SignatureInvalid unless one of the channel's secrets signed this request."""

    @abstractmethod
    def parse(self, payload: Any, channel: ChannelContext) -> list[Submission]:
        """Turn a verified, JSON-decoded payload into submissions (possibly none, e.g. a ping).

        Raise PayloadInvalid when the payload is of a kind this source sends but is unusable.
        """

    def challenge(self, request: SourceRequest, secrets: Sequence[str]) -> dict[str, Any]:
        """Answer the source's challenge GET; only adapters with `answers_challenge` override it."""
        raise NotImplementedError(f"{self.slug} has no challenge")
