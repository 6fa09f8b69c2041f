"""Typeform webhooks: `form_response` events signed with `Typeform-Signature: sha256=<base64>`.

The signature is the base64 HMAC-SHA256 of the raw body keyed by the webhook's secret.

Channel options (all optional):

- `score_field_ref`: ref of the question holding the score. Default: the first `nps` question of
  the form definition, else its first `opinion_scale` or `rating` question.
- `metric`: `nps`, `csat` or `ces`. Default: `nps` for an `nps` question; an opinion scale or a
  rating could mean any metric, so for those it must be set.
- `comment_field_ref`: ref of the free-text question. Default: the first `long_text` question.
- `stage_hidden_field` (default `journey_stage`) and `default_stage`, used when the hidden field
  is absent.
- `customer_id_hidden_field` (default `customer_id`).
- `brand_hidden_field`: a hidden field naming the brand, for one form shared by several brands;
  without it the channel's brand is used.

`form_response_partial` events are ignored: only a submitted form is a response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxpulse_collector.sources import _payload as read
from cxpulse_collector.sources._signing import verify_body_signature
from cxpulse_collector.sources.base import ChannelContext, SourceAdapter, SourceRequest, Submission
from cxpulse_contracts.events import Metric

SIGNATURE_HEADER = "typeform-signature"
HIDDEN = "form_response.hidden"
#: Question types tried in turn when no `score_field_ref` is configured.
SCORE_QUESTION_TYPES = (("nps",), ("opinion_scale", "rating"))
COMMENT_QUESTION_TYPES = (("long_text",),)


class TypeformAdapter(SourceAdapter):
    slug = "typeform"

    def verify(self, request: SourceRequest, secrets: Sequence[str], *, now: datetime) -> None:
        verify_body_signature(request, secrets, header=SIGNATURE_HEADER, encoding="base64")

    def parse(self, payload: Any, channel: ChannelContext) -> list[Submission]:
        problems = read.Problems()
        event = read.as_object(payload, "payload", problems)
        problems.raise_if_any()
        if event.get("event_type") != "form_response":
            return []
        response = read.as_object(event.get("form_response"), "form_response", problems)
        form = _Form.of(response, problems)
        hidden = read.as_object(response.get("hidden") or {}, HIDDEN, problems)

        score_question = form.question(channel, "score_field_ref", SCORE_QUESTION_TYPES, problems)
        if score_question is None and not problems.concern("options.score_field_ref"):
            problems.add("form_response.definition", "the form has no nps, opinion_scale or rating question")
        comment_question = form.question(channel, "comment_field_ref", COMMENT_QUESTION_TYPES, problems)
        stage = read.journey_stage(hidden, HIDDEN, channel, "stage_hidden_field", problems)

        score = comment = None
        if score_question is not None:
            score = read.whole_number(form.answer(score_question, "number"), _name(score_question), problems)
        if comment_question is not None:
            comment = read.optional_text(form.answer(comment_question, "text"), _name(comment_question), problems)
        brand = read.configured_value(hidden, HIDDEN, channel, "brand_hidden_field", None, problems)
        customer_id = read.configured_value(
            hidden, HIDDEN, channel, "customer_id_hidden_field", "customer_id", problems
        )

        fields = {
            "response_id": read.identifier(response.get("token"), "form_response.token", problems),
            "brand": brand or channel.brand,
            "metric": _metric(score_question, channel, problems),
            "score": score,
            "comment": comment,
            "journey_stage": stage,
            "customer_id": customer_id,
            "occurred_at": read.iso_datetime(response.get("submitted_at"), "form_response.submitted_at", problems),
        }
        return [read.survey_submission(fields, problems)]


@dataclass(frozen=True)
class _Form:
    questions: list[read.JsonObject]
    answers_by_question_id: dict[str | None, read.JsonObject]

    @classmethod
    def of(cls, response: read.JsonObject, problems: read.Problems) -> _Form:
        definition = read.as_object(response.get("definition"), "form_response.definition", problems)
        questions = read.as_objects(definition.get("fields"), "form_response.definition.fields", problems)
        answers = read.as_objects(response.get("answers"), "form_response.answers", problems)
        return cls(questions, {_question_id(answer): answer for answer in answers})

    def question(
        self,
        channel: ChannelContext,
        ref_option: str,
        preferred_types: tuple[tuple[str, ...], ...],
        problems: read.Problems,
    ) -> read.JsonObject | None:
        """The question the option names by ref, else the first one of the most preferred type."""
        ref = read.text_option(channel, ref_option, problems)
        if ref is not None:
            named = next((question for question in self.questions if question.get("ref") == ref), None)
            if named is None:
                problems.add(f"options.{ref_option}", f"the form has no question with ref {ref!r}")
            return named
        for types in preferred_types:
            for question in self.questions:
                if question.get("type") in types:
                    return question
        return None

    def answer(self, question: read.JsonObject, key: str) -> Any:
        question_id = _text_id(question.get("id"))
        if question_id is None:
            return None
        return self.answers_by_question_id.get(question_id, {}).get(key)


def _question_id(answer: read.JsonObject) -> str | None:
    question = answer.get("field")
    return _text_id(question.get("id")) if isinstance(question, Mapping) else None


def _text_id(value: Any) -> str | None:
    """Ids are compared as dictionary keys, so anything but a string (even a list) counts as none."""
    return value if isinstance(value, str) else None


def _name(question: read.JsonObject) -> str:
    return f"answer to question {question.get('ref') or question.get('id')!r}"


def _metric(question: read.JsonObject | None, channel: ChannelContext, problems: read.Problems) -> Metric | None:
    metric = read.metric_option(channel, "metric", problems)
    if metric is not None or question is None or problems.concern("options.metric"):
        return metric
    if question.get("type") == "nps":
        return "nps"
    problems.add("options.metric", f"must be set: a question of type {question.get('type')!r} could measure any metric")
    return None
