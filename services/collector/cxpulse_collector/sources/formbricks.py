"""Formbricks webhooks, signed the Standard Webhooks way (`webhook-id`, `-timestamp`, `-signature`).

Channel secrets are the webhook's `whsec_...` signing secrets. The `standardwebhooks` package
computes the expected signature; the timestamp is checked here against the collector's clock so
that `now` is the only clock in play.

The body is one `{"webhookId", "event", "data"}` object; Formbricks' documentation shows it wrapped
in an array, so an array of them is accepted too. `responseCreated`, `responseUpdated` and
`responseFinished` carry a response; an unfinished one without the score yet gives no submission.

A response lists answers by question id and does not describe the survey, so the channel says
which question is which:

- `score_question_id` (required) and `metric` (default `nps`).
- `comment_question_id` (optional).
- `stage_hidden_field` (default `journey_stage`) and `default_stage`; hidden fields arrive among
  the answers, keyed by their id.
- `customer_id_hidden_field` (default `customer_id`), else the contact's `userId`.
- `brand_hidden_field` (optional): a hidden field naming the brand, else the channel's brand.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from cxpulse_collector.sources import _payload as read
from cxpulse_collector.sources._signing import (
    decode_base64,
    decode_utf8,
    parse_signed_time,
    require_any_match,
    require_fresh,
    require_header,
)
from cxpulse_collector.sources.base import (
    ChannelContext,
    SignatureInvalid,
    SourceAdapter,
    SourceRequest,
    Submission,
)

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
ANSWERS = "data.data"
RESPONSE_EVENTS = frozenset({"responseCreated", "responseUpdated", "responseFinished"})


class FormbricksAdapter(SourceAdapter):
    slug = "formbricks"

    def verify(self, request: SourceRequest, secrets: Sequence[str], *, now: datetime) -> None:
        message_id = require_header(request, ID_HEADER)
        signed_at = parse_signed_time(require_header(request, TIMESTAMP_HEADER), header=TIMESTAMP_HEADER)
        require_fresh(signed_at, now=now, header=TIMESTAMP_HEADER)
        presented = list(_v1_signatures(require_header(request, SIGNATURE_HEADER)))
        body = decode_utf8(request.body)
        require_any_match(presented, _expected_signatures(secrets, message_id, signed_at, body))

    def parse(self, payload: Any, channel: ChannelContext) -> list[Submission]:
        if not isinstance(payload, list):
            return _parse_event(payload, channel, read.Problems())
        return read.parse_each(
            payload, lambda index, event: _parse_event(event, channel, read.Problems(f"payload[{index}]"))
        )


def _v1_signatures(header: str) -> Iterator[bytes]:
    """`v1,<base64>` entries, space separated; other versions are for other schemes and skipped."""
    for entry in header.split():
        version, separator, signature = entry.partition(",")
        if not separator:
            raise SignatureInvalid(f"{SIGNATURE_HEADER} entry {entry!r} is not version,signature")
        if version == "v1":
            yield decode_base64(signature, header=SIGNATURE_HEADER)


def _expected_signatures(secrets: Sequence[str], message_id: str, signed_at: datetime, body: str) -> Iterator[bytes]:
    for secret in secrets:
        try:
            signer = Webhook(secret)
        except (ValueError, RuntimeError, EmptyWebhookSecretError):
            continue  # a secret that is not whsec_/base64 signs nothing; the others may still match
        versioned = signer.sign(msg_id=message_id, timestamp=signed_at, data=body)
        yield base64.b64decode(versioned.partition(",")[2])


def _parse_event(event_value: Any, channel: ChannelContext, problems: read.Problems) -> list[Submission]:
    event = read.as_object(event_value, "payload", problems)
    problems.raise_if_any()
    if read.event_kind(event, "event") not in RESPONSE_EVENTS:
        return []
    response = read.as_object(event.get("data"), "data", problems)
    answers = read.as_object(response.get("data"), ANSWERS, problems)

    score_question = read.text_option(channel, "score_question_id", problems)
    score = comment = None
    if score_question is None:
        problems.add("options.score_question_id", "must be set: Formbricks does not say which answer is the score")
    elif answers.get(score_question) is None and response.get("finished") is not True:
        problems.raise_if_any()
        return []
    else:
        score = read.whole_number(answers.get(score_question), f"{ANSWERS}.{score_question}", problems)
    comment_question = read.text_option(channel, "comment_question_id", problems)
    if comment_question is not None:
        comment = read.optional_text(answers.get(comment_question), f"{ANSWERS}.{comment_question}", problems)

    brand = read.configured_value(answers, ANSWERS, channel, "brand_hidden_field", None, problems)
    customer_id = read.configured_value(answers, ANSWERS, channel, "customer_id_hidden_field", "customer_id", problems)
    contact = response.get("contact")
    if customer_id is None and isinstance(contact, Mapping):
        customer_id = read.optional_text(contact.get("userId"), "data.contact.userId", problems)

    fields = {
        "response_id": read.identifier(response.get("id"), "data.id", problems),
        "brand": brand or channel.brand,
        "metric": read.metric_option(channel, "metric", problems) or "nps",
        "score": score,
        "comment": comment,
        "journey_stage": read.journey_stage(answers, ANSWERS, channel, "stage_hidden_field", problems),
        "customer_id": customer_id,
        "language": read.language_tag(response.get("language")),
        "occurred_at": read.iso_datetime(
            response.get("updatedAt") or response.get("createdAt"), "data.updatedAt", problems
        ),
    }
    return [read.survey_submission(fields, problems)]
