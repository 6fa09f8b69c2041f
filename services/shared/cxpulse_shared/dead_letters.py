"""Dead letters: a message a consumer cannot decode is kept, with why, and the stream goes on."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from cxpulse_contracts import DeadLetter
from cxpulse_shared.cloudevents import headers_as_dict


def dead_letter(record: Any, *, reason: str, consumer_group: str) -> DeadLetter:
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        reason=reason[:2000],
        value_base64=base64.b64encode(record.value or b"").decode(),
        headers=headers_as_dict(record.headers or []),
        consumer_group=consumer_group,
        occurred_at=datetime.now(UTC),
    )
