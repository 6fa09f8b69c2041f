"""Zendesk webhooks carrying a ticket's CSAT rating, signed with `X-Zendesk-Webhook-Signature`.

The signature is base64(HMAC-SHA256(signing secret, timestamp + body)), the timestamp being the
`X-Zendesk-Webhook-Signature-Timestamp` header; a timestamp more than five minutes away from our
clock is refused as a possible replay.

Zendesk sends ticket activity only through a trigger (or automation) whose JSON body you write, so
this adapter defines that body. It mirrors the Satisfaction Ratings API object:

    {"satisfaction_rating": {"ticket_id": "{{ticket.id}}", "score": "good",
                             "comment": "{{satisfaction.current_comment}}",
                             "requester_id": "{{ticket.requester.id}}",
                             "updated_at": "{{ticket.updated_at_with_timestamp}}"},
     "journey_stage": "support"}

with one trigger per condition "Satisfaction is Good" / "... is Bad" writing the literal score,
because `{{satisfaction.current_rating}}` renders a localised sentence, not a code.

Scores: a number is read as the newer CSAT survey's 1-5 rating and kept as is (a 2- or 3-point
survey cannot be told apart by its numbers, so its triggers should send good/bad). Legacy ratings
are binary, and a binary answer says satisfied or not with no degree, so `good` becomes 5 and `bad`
becomes 1, the poles of the 1-5 scale. Zendesk itself counts 4-5 as good and 1-3 as bad, so a CSAT
computed as the share of 4-5 scores equals Zendesk's good / (good + bad). `offered` and
`unoffered` mean the customer has not rated yet and give no submission; so do Zendesk's own event
webhooks (`zen:event-type:...`).

The response id is `ticket-<id>`: a ticket has one rating, which a customer may change.
Channel options: `stage_field` (default `journey_stage`, a top-level key of the body) and
`default_stage` (default `support`). The brand is always the channel's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cxpulse_collector.sources import _payload as read
from cxpulse_collector.sources._signing import (
    decode_base64,
    parse_signed_time,
    require_fresh,
    require_header,
    verify_any_secret,
)
from cxpulse_collector.sources.base import ChannelContext, SourceAdapter, SourceRequest, Submission

SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
RATING = "satisfaction_rating"
SCORE_BY_BINARY_RATING = {"good": 5, "bad": 1}
NOT_YET_RATED = frozenset({"offered", "unoffered"})


class ZendeskAdapter(SourceAdapter):
    slug = "zendesk"

    def verify(self, request: SourceRequest, secrets: Sequence[str], *, now: datetime) -> None:
        signature = decode_base64(require_header(request, SIGNATURE_HEADER), header=SIGNATURE_HEADER)
        timestamp = require_header(request, TIMESTAMP_HEADER)
        require_fresh(parse_signed_time(timestamp, header=TIMESTAMP_HEADER), now=now, header=TIMESTAMP_HEADER)
        verify_any_secret(signature, timestamp.encode("utf-8") + request.body, secrets)

    def parse(self, payload: Any, channel: ChannelContext) -> list[Submission]:
        problems = read.Problems()
        body = read.as_object(payload, "payload", problems)
        problems.raise_if_any()
        if "type" in body and RATING not in body:
            return []
        rating = read.as_object(body.get(RATING), RATING, problems)
        raw_score = rating.get("score")
        if isinstance(raw_score, str) and raw_score.strip().lower() in NOT_YET_RATED:
            return []

        ticket_id = read.identifier(rating.get("ticket_id"), f"{RATING}.ticket_id", problems)
        fields = {
            "response_id": f"ticket-{ticket_id}" if ticket_id else None,
            "brand": channel.brand,
            "metric": "csat",
            "score": _score(raw_score, problems),
            "comment": read.optional_text(rating.get("comment"), f"{RATING}.comment", problems),
            "journey_stage": read.journey_stage(body, "payload", channel, "stage_field", problems, fallback="support"),
            "customer_id": read.optional_identifier(rating.get("requester_id"), f"{RATING}.requester_id", problems),
            "occurred_at": read.iso_datetime(
                rating.get("updated_at") or rating.get("created_at"), f"{RATING}.updated_at", problems
            ),
        }
        return [read.survey_submission(fields, problems)]


def _score(value: Any, problems: read.Problems) -> int | None:
    """`good`/`bad`, or the 1-5 rating as a number or as the digits a placeholder renders."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in SCORE_BY_BINARY_RATING:
            return SCORE_BY_BINARY_RATING[word]
        if word.isascii() and word.isdigit():
            return int(word)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return read.whole_number(value, f"{RATING}.score", problems)
    problems.add(f"{RATING}.score", f"must be good, bad or a 1-5 rating, got {value!r}")
    return None
