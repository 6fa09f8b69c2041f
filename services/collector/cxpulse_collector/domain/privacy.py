"""Personal data in free text is masked at ingest, before anything reaches Kafka.

The rule (documented in the README): e-mail addresses become `[email]`, payment card numbers
(13-19 digits, spaces or dashes allowed, passing the Luhn check) become `[card]`, and phone
numbers (8-15 digits, optionally with +, spaces, dots, dashes or parentheses) become `[phone]`.
Shorter digit runs (flight numbers, order numbers, prices, durations) are left alone, because a
care team needs them. Every pattern is linear-time so crafted text stays cheap.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
CARD_CANDIDATE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,20}\d(?!\w)")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card]" if luhn_valid(digits) else match.group(0)


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _mask_phone(match: re.Match[str]) -> str:
    candidate = match.group(0)
    digits = sum(character.isdigit() for character in candidate)
    if ISO_DATE.fullmatch(candidate.strip()) or not 8 <= digits <= 15:
        return candidate
    return "[phone]"


def mask_personal_data(text: str) -> str:
    masked = EMAIL.sub("[email]", text)
    masked = CARD_CANDIDATE.sub(_mask_card, masked)
    return PHONE.sub(_mask_phone, masked)
