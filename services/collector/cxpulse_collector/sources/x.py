"""X (Twitter) Account Activity API webhooks.

X proves it owns the webhook with a CRC: `GET ?crc_token=T` must answer
`{"response_token": "sha256=" + base64(HMAC-SHA256(consumer secret, T))}`. Deliveries carry
`x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret, body)>`.

The channel's secrets are the app's consumer secrets. Deliveries are accepted under any of them,
but a CRC can only be answered with one: the first, so after regenerating the consumer secret list
the new one first and keep the old one after it until X has moved over.

Only `tweet_create_events` become mentions; likes, follows, DMs and the rest give none. Posts the
subscribed account writes itself are the brand talking, not feedback about it, and are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cxpulse_collector.sources import _payload as read
from cxpulse_collector.sources._signing import hmac_sha256_base64, verify_body_signature
from cxpulse_collector.sources.base import (
    ChannelContext,
    SignatureInvalid,
    SourceAdapter,
    SourceRequest,
    Submission,
)
from cxpulse_contracts import MentionSubmission

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
PLATFORM = "x"
#: v1.1 `created_at`, e.g. "Wed Oct 10 20:19:24 +0000 2018".
CREATED_AT_FORMAT = "%a %b %d %H:%M:%S %z %Y"


class XAdapter(SourceAdapter):
    slug = "x"
    answers_challenge = True

    def verify(self, request: SourceRequest, secrets: Sequence[str], *, now: datetime) -> None:
        verify_body_signature(request, secrets, header=SIGNATURE_HEADER, encoding="base64")

    def challenge(self, request: SourceRequest, secrets: Sequence[str]) -> dict[str, Any]:
        token = request.query.get("crc_token", "")
        if not token:
            raise SignatureInvalid("missing crc_token query parameter")
        if not secrets:
            raise SignatureInvalid("the channel has no consumer secret to answer the CRC with")
        return {"response_token": "sha256=" + hmac_sha256_base64(secrets[0], token.encode("utf-8"))}

    def parse(self, payload: Any, channel: ChannelContext) -> list[Submission]:
        problems = read.Problems()
        activity = read.as_object(payload, "payload", problems)
        problems.raise_if_any()
        if "tweet_create_events" not in activity:
            return []
        tweets = read.as_objects(activity.get("tweet_create_events"), "tweet_create_events", problems)
        problems.raise_if_any()

        subscribed_user_id = activity.get("for_user_id")

        def mention_unless_own(index: int, tweet: read.JsonObject) -> list[Submission]:
            if subscribed_user_id is not None and _author_id(tweet) == subscribed_user_id:
                return []
            return [_mention(tweet, channel, read.Problems(f"tweet_create_events[{index}]"))]

        return read.parse_each(tweets, mention_unless_own)


def _author_id(tweet: read.JsonObject) -> Any:
    author = tweet.get("user")
    return author.get("id_str") if isinstance(author, Mapping) else None


def _mention(tweet: read.JsonObject, channel: ChannelContext, problems: read.Problems) -> MentionSubmission:
    author = read.as_object(tweet.get("user"), "user", problems)
    tweet_id = read.identifier(tweet.get("id_str") or tweet.get("id"), "id_str", problems)
    handle = read.identifier(author.get("screen_name"), "user.screen_name", problems)
    fields = {
        "mention_id": tweet_id,
        "brand": channel.brand,
        "platform": PLATFORM,
        "author": {"handle": handle, "followers": _count(author, "followers_count")},
        "text": _full_text(tweet, problems),
        "url": f"https://x.com/{handle}/status/{tweet_id}" if tweet_id and handle else None,
        "engagement": {
            "likes": _count(tweet, "favorite_count"),
            "shares": _count(tweet, "retweet_count"),
            "replies": _count(tweet, "reply_count"),
        },
        "language": read.language_tag(tweet.get("lang")),
        "occurred_at": _occurred_at(tweet, problems),
    }
    return read.build_submission(MentionSubmission, fields, problems)


def _full_text(tweet: read.JsonObject, problems: read.Problems) -> str | None:
    """Long posts arrive truncated in `text` with the whole of it in `extended_tweet.full_text`."""
    extended = tweet.get("extended_tweet")
    candidates = (
        extended.get("full_text") if isinstance(extended, Mapping) else None,
        tweet.get("full_text"),
        tweet.get("text"),
    )
    text = next((candidate for candidate in candidates if isinstance(candidate, str) and candidate.strip()), None)
    if text is None:
        problems.add("text", "is missing")
    return text


def _occurred_at(tweet: read.JsonObject, problems: read.Problems) -> datetime | None:
    created_at = tweet.get("created_at")
    if isinstance(created_at, str):
        try:
            return datetime.strptime(created_at, CREATED_AT_FORMAT)
        except ValueError:
            pass
    if tweet.get("timestamp_ms") is not None:
        return read.unix_datetime(tweet.get("timestamp_ms"), "timestamp_ms", problems, per_second=1000)
    problems.add("created_at", f"is not a post date: {created_at!r}")
    return None


def _count(source: read.JsonObject, key: str) -> int:
    """Counts are context, not the mention itself: one that is absent or odd counts as zero."""
    value = source.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
