"""Signature checks every adapter shares: each source only says what it signs and how it encodes it.

Everything here raises `SignatureInvalid` and nothing else, whatever the request looks like, so a
malformed header can never turn into a 500.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from cxpulse_collector.sources.base import SignatureInvalid, SourceRequest

#: How far a signed timestamp may be from our clock, either way, before we call it a replay.
REPLAY_TOLERANCE = timedelta(minutes=5)

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def hmac_sha256_base64(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac_sha256(secret, message)).decode("ascii")


def require_header(request: SourceRequest, name: str) -> str:
    value = request.headers.get(name, "").strip()
    if not value:
        raise SignatureInvalid(f"missing {name} header")
    return value


def without_prefix(value: str, prefix: str, *, header: str) -> str:
    if not value.startswith(prefix):
        raise SignatureInvalid(f"{header} must start with {prefix!r}")
    return value[len(prefix) :]


def decode_base64(value: str, *, header: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as error:  # binascii.Error, and non-ASCII input, are both ValueErrors
        raise SignatureInvalid(f"{header} is not valid base64") from error


def decode_hex(value: str, *, header: str) -> bytes:
    try:
        return binascii.unhexlify(value.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise SignatureInvalid(f"{header} is not valid hex") from error


def decode_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SignatureInvalid("the body is not UTF-8") from error


def parse_signed_time(value: str, *, header: str) -> datetime:
    """Unix seconds or an ISO 8601 instant with a zone: sources use one or the other."""
    try:
        if _UNIX_SECONDS.fullmatch(value):
            return datetime.fromtimestamp(int(value), tz=UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError) as error:
        raise SignatureInvalid(f"{header} is not a timestamp") from error
    if parsed.tzinfo is None:
        raise SignatureInvalid(f"{header} has no time zone")
    return parsed


def require_fresh(signed_at: datetime, *, now: datetime, header: str) -> None:
    if abs(now - signed_at) > REPLAY_TOLERANCE:
        raise SignatureInvalid(f"{header} is more than {REPLAY_TOLERANCE} away from now")


def require_any_match(presented: Sequence[bytes], expected: Iterable[bytes]) -> None:
    """Pass when one presented signature equals one expected signature, comparing in constant time.

    Every pair is compared, even after a match, so timing does not reveal which secret matched.
    """
    expected_signatures = list(expected)
    if not expected_signatures:
        raise SignatureInvalid("the channel has no usable secret")
    matches = [
        hmac.compare_digest(candidate, signature) for candidate in presented for signature in expected_signatures
    ]
    if not any(matches):
        raise SignatureInvalid("the signature matches none of the channel's secrets")


def verify_body_signature(
    request: SourceRequest, secrets: Sequence[str], *, header: str, encoding: Literal["base64", "hex"]
) -> None:
    """`<header>: sha256=<HMAC-SHA256 of the raw body>`, the scheme Typeform, Delighted and X share."""
    encoded = without_prefix(require_header(request, header), "sha256=", header=header)
    signature = decode_base64(encoded, header=header) if encoding == "base64" else decode_hex(encoded, header=header)
    verify_any_secret(signature, request.body, secrets)


def verify_any_secret(presented: bytes, message: bytes, secrets: Sequence[str]) -> None:
    """The common case: one HMAC-SHA256 over `message`, keyed by any of the channel's secrets."""
    require_any_match([presented], (hmac_sha256(secret, message) for secret in secrets))
