"""Reading untrusted source payloads and channel options.

Every reader records what is wrong in a `Problems` and carries on, so that one 422 names every
reason at once instead of the first one only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cxpulse_collector.sources.base import ChannelContext, PayloadInvalid
from cxpulse_contracts import SurveySubmission
from cxpulse_contracts.events import SCORE_RANGES, Metric, check_score_range

JsonObject = Mapping[str, Any]
SubmissionT = TypeVar("SubmissionT", bound=BaseModel)
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

METRICS: tuple[Metric, ...] = get_args(Metric)
#: The contract's language pattern: a tag it would refuse is dropped here rather than refused.
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
#: Tags that look valid but say the language is unknown, e.g. X's "und".
_UNKNOWN_LANGUAGES = frozenset({"und", "zxx"})


class Problems:
    """Reasons a payload is unusable; `where` prefixes them when one delivery holds several items."""

    def __init__(self, where: str = "") -> None:
        self._where = where
        self._reasons: list[str] = []
        self._fields: set[str] = set()

    def add(self, field: str, reason: str) -> None:
        self._fields.add(field)
        path = ".".join(part for part in (self._where, field) if part)
        self._reasons.append(f"{path}: {reason}" if path else reason)

    def concern(self, field: str) -> bool:
        return field in self._fields

    @property
    def reasons(self) -> list[str]:
        return list(self._reasons)

    def raise_if_any(self) -> None:
        if self._reasons:
            raise PayloadInvalid(self._reasons)


def parse_each(items: Sequence[ItemT], parse_one: Callable[[int, ItemT], list[ResultT]]) -> list[ResultT]:
    """Every item of a delivery, or a refusal naming every unusable one: never half a delivery."""
    results: list[ResultT] = []
    reasons: list[str] = []
    for index, item in enumerate(items):
        try:
            results.extend(parse_one(index, item))
        except PayloadInvalid as invalid:
            reasons.extend(invalid.errors)
    if reasons:
        raise PayloadInvalid(reasons)
    return results


def event_kind(event: JsonObject, key: str) -> str:
    """The event's type; "" for one no source sends (e.g. a list), so it matches no handled kind."""
    kind = event.get(key)
    return kind if isinstance(kind, str) else ""


def as_object(value: Any, field: str, problems: Problems) -> JsonObject:
    if isinstance(value, Mapping):
        return value
    problems.add(field, "must be a JSON object" if value is not None else "is missing")
    return {}


def as_objects(value: Any, field: str, problems: Problems) -> list[JsonObject]:
    """A list of objects; entries that are not objects are reported, not silently skipped."""
    if not isinstance(value, list):
        problems.add(field, "must be a JSON array" if value is not None else "is missing")
        return []
    return [as_object(item, f"{field}[{index}]", problems) for index, item in enumerate(value)]


def optional_text(value: Any, field: str, problems: Problems) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    problems.add(field, "must be a string")
    return None


def identifier(value: Any, field: str, problems: Problems) -> str | None:
    """Sources send ids as strings or as integers; both become strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    problems.add(field, "is missing" if value is None else "must be a non-empty string or an integer")
    return None


def optional_identifier(value: Any, field: str, problems: Problems) -> str | None:
    """An id that may be absent; an empty string is what a template renders for a missing value."""
    if value is None or value == "":
        return None
    return identifier(value, field, problems)


def whole_number(value: Any, field: str, problems: Problems) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    problems.add(field, "is missing" if value is None else f"must be a whole number, got {value!r}")
    return None


def iso_datetime(value: Any, field: str, problems: Problems) -> datetime | None:
    if not isinstance(value, str):
        problems.add(field, "is missing" if value is None else "must be an ISO 8601 string")
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        problems.add(field, f"is not an ISO 8601 date-time: {value!r}")
        return None
    if parsed.tzinfo is None:
        problems.add(field, f"has no time zone: {value!r}")
        return None
    return parsed


def unix_datetime(value: Any, field: str, problems: Problems, *, per_second: int = 1) -> datetime | None:
    """Epoch numbers, in seconds or (with `per_second=1000`) milliseconds, possibly as a string."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / per_second, tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    problems.add(field, "is missing" if value is None else f"is not an epoch timestamp: {value!r}")
    return None


def language_tag(value: Any) -> str | None:
    """A usable BCP 47 tag, or None: a language we cannot name is no reason to refuse feedback."""
    if isinstance(value, str) and _LANGUAGE_TAG.fullmatch(value) and value not in _UNKNOWN_LANGUAGES:
        return value
    return None


def text_option(channel: ChannelContext, key: str, problems: Problems, default: str | None = None) -> str | None:
    value = channel.options.get(key, default)
    if value is None or isinstance(value, str):
        return value
    problems.add(f"options.{key}", "the channel option must be a string")
    return default


def metric_option(channel: ChannelContext, key: str, problems: Problems) -> Metric | None:
    value = channel.options.get(key)
    for metric in METRICS:
        if value == metric:
            return metric
    if value is not None:
        problems.add(f"options.{key}", f"the channel option must be one of {', '.join(METRICS)}")
    return None


def build_submission(model: type[SubmissionT], fields: JsonObject, problems: Problems) -> SubmissionT:
    """Validate against the contract; its complaints join ours, except where we already said more.

    A field we could not read is left out, so the contract calls it missing: that adds nothing to
    the reason we already gave in the source's own terms, and is dropped.
    """
    present = {name: value for name, value in fields.items() if value is not None}
    already_explained = bool(problems.reasons)
    try:
        submission = model.model_validate(present)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            field = ".".join(str(part) for part in detail["loc"])
            if problems.concern(field) or (already_explained and detail["type"] == "missing"):
                continue
            problems.add(field, _readable(detail))
        raise PayloadInvalid(problems.reasons) from error
    problems.raise_if_any()
    return submission


def survey_submission(fields: JsonObject, problems: Problems) -> SurveySubmission:
    """The contract checks the score's range only once every field is valid; we want it said always."""
    metric, score = fields.get("metric"), fields.get("score")
    if metric in SCORE_RANGES and isinstance(score, int):
        try:
            check_score_range(metric, score)
        except ValueError as out_of_range:
            problems.add("score", str(out_of_range))
            fields = {**fields, "score": None}
    return build_submission(SurveySubmission, fields, problems)


def _readable(detail: ErrorDetails) -> str:
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "missing" or not detail["loc"]:
        return message
    return f"{message} (got {detail['input']!r})"


def configured_value(
    values: JsonObject,
    where: str,
    channel: ChannelContext,
    name_option: str,
    default_name: str | None,
    problems: Problems,
) -> str | None:
    """The text under the key a channel option names (e.g. a hidden field), if the payload has it."""
    name = text_option(channel, name_option, problems, default_name)
    if name is None:
        return None
    return optional_text(values.get(name), f"{where}.{name}", problems)


def journey_stage(
    values: JsonObject,
    where: str,
    channel: ChannelContext,
    name_option: str,
    problems: Problems,
    *,
    fallback: str | None = None,
) -> str | None:
    """The stage the payload carries under the configured key, else the channel's `default_stage`."""
    stage = configured_value(values, where, channel, name_option, "journey_stage", problems)
    stage = stage or text_option(channel, "default_stage", problems, fallback)
    if stage is None:
        problems.add("journey_stage", f"the payload has no {name_option} value and there is no default_stage")
    return stage
