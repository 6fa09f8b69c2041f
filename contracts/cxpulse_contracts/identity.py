"""Event identity and pseudonymisation rules shared by every producer."""

import hashlib
import hmac
from uuid import UUID, uuid5

# Fixed forever: changing it would give every past event a new identity.
EVENT_NAMESPACE = UUID("5b0f7f8e-3c1a-5d2e-9a47-6c7870756c73")


def event_id_for(*, source: str, brand: str, source_id: str) -> UUID:
    """The same response from the same source is the same event, whatever delivery carried it."""
    return uuid5(EVENT_NAMESPACE, f"{source}\x1f{brand}\x1f{source_id}")


def pseudonymise(value: str, *, key: bytes) -> str:
    """Keyed hash: stable per key so journeys can be joined, irreversible without the key."""
    digest = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    return f"ph1_{digest[:40]}"
