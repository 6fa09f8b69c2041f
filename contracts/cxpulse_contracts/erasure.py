"""Which stored identifiers stand for the customer an erasure request names (scorer and alerts alike).

A request names a customer the way the outside world knows them: the survey tool's customer id
(stored only as its keyed pseudonym, made with the collector's key), an author as
`platform:handle`, or a pseudonym already. Every reading that applies is erased: removing an
identifier that was never stored costs nothing, missing one would leave personal data behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cxpulse_contracts import pseudonymise

AUTHOR = re.compile(r"^(?P<platform>[a-z0-9][a-z0-9_-]{0,63}):(?P<handle>[^\s:/][^\s/]{0,199})$", re.IGNORECASE)
PSEUDONYM = re.compile(r"^ph1_[0-9a-f]{40}$")
MAX_CUSTOMER_CHARS = 300


class PseudonymisationKeyMissing(Exception):
    """A raw customer id cannot be matched without the key the collector hashed it with."""


@dataclass(frozen=True)
class ErasureTarget:
    """The identifiers to remove, and which readings of the request produced them."""

    identifiers: tuple[str, ...]
    readings: tuple[str, ...]
    author: tuple[str, str] | None


def author_identifier(platform: str, handle: str) -> str:
    """How the scorer stores a mention's author: handles are case-insensitive on every platform."""
    return f"{platform}:{handle.lower()}"


def parse_author(customer: str) -> tuple[str, str] | None:
    """(platform, handle) when `customer` reads as `platform:handle`, else None."""
    found = AUTHOR.match(customer.strip())
    return (found["platform"].lower(), found["handle"]) if found else None


def validated_customer(customer: str) -> str:
    """The id without surrounding whitespace (as the collector strips it); ValueError when it
    cannot name anyone."""
    given = customer.strip()
    if not given or len(given) > MAX_CUSTOMER_CHARS or not given.isprintable():
        raise ValueError(f"a customer id is 1 to {MAX_CUSTOMER_CHARS} printable characters")
    return given


def erasure_target(customer: str, *, pseudonymisation_key: bytes | None) -> ErasureTarget:
    """Raises ValueError on an id that names nobody, PseudonymisationKeyMissing when only the key
    could find it."""
    given = validated_customer(customer)
    author = parse_author(given)
    found: dict[str, str] = {}
    if PSEUDONYM.match(given):
        found["pseudonym"] = given
    if author is not None:
        found["author"] = author_identifier(*author)
    if pseudonymisation_key is not None:
        found["customer_id"] = pseudonymise(given, key=pseudonymisation_key)
    elif not found:
        raise PseudonymisationKeyMissing("the scorer has no pseudonymisation key to find a raw customer id")
    return ErasureTarget(identifiers=tuple(found.values()), readings=tuple(found), author=author)
