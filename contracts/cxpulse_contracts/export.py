"""Generates the committed JSON Schemas and the AsyncAPI 3.0 document from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from cxpulse_contracts import events, topics

CONTRACTS_DIR = Path(__file__).resolve().parents[1]
SCHEMA_DIR = CONTRACTS_DIR / "schemas"
ASYNCAPI_FILE = CONTRACTS_DIR / "asyncapi.json"

SCHEMAS: dict[str, Any] = {
    "SurveySubmission": events.SurveySubmission,
    "MentionSubmission": events.MentionSubmission,
    "SurveyResponse": events.SurveyResponse,
    "SocialMention": events.SocialMention,
    "FeedbackEvent": events.FeedbackEvent,
    "ScoredFeedback": events.ScoredFeedback,
    "AlertEvent": events.AlertEvent,
    "DeadLetter": events.DeadLetter,
}

CHANNELS = {
    topics.FEEDBACK: ("FeedbackEvent", "Raw feedback: survey responses and social mentions.", "collector"),
    topics.SCORED: ("ScoredFeedback", "Feedback with sentiment, stage, topics, reach and P&L.", "scorer"),
    topics.ALERTS: ("AlertEvent", "Every change in an incident's life.", "alerts"),
    topics.DEAD_LETTERS: ("DeadLetter", "Messages a consumer could not decode.", "scorer, alerts"),
}

CLOUDEVENT_HEADERS = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type", "traceparent"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "the event_id"},
        "ce_source": {"type": "string"},
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
        "tracestate": {"type": "string"},
    },
}


def json_schema(target: Any) -> dict[str, Any]:
    if isinstance(target, type) and issubclass(target, BaseModel):
        return target.model_json_schema(mode="serialization")
    return TypeAdapter(target).json_schema(mode="serialization")


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic, (message_name, description, producer) in CHANNELS.items():
        channel_id = topic.replace(".", "_")
        channels[channel_id] = {
            "address": topic,
            "description": f"{description} Produced by {producer}. Key: brand.",
            "messages": {message_name: {"$ref": f"#/components/messages/{message_name}"}},
            "bindings": {"kafka": {"partitions": 12, "bindingVersion": "0.5.0"}},
        }
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    messages = {
        name: {
            "name": name,
            "contentType": "application/json",
            "headers": CLOUDEVENT_HEADERS,
            "payload": {"$ref": f"schemas/{name}.json"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "brand"}, "bindingVersion": "0.5.0"}},
        }
        for name, _, _ in CHANNELS.values()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "cxpulse events",
            "version": "1.0.0",
            "description": "Kafka topics of cxpulse; CloudEvents 1.0 Kafka protocol binding, binary mode.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render_all() -> dict[Path, str]:
    rendered = {SCHEMA_DIR / f"{name}.json": _dump(json_schema(target)) for name, target in SCHEMAS.items()}
    rendered[ASYNCAPI_FILE] = _dump(asyncapi_document())
    return rendered


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_all() -> list[Path]:
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    changed = []
    for path, text in render_all().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def drifted() -> list[Path]:
    return [path for path, text in render_all().items() if not path.exists() or path.read_text() != text]
