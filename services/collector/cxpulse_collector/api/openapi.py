"""The request bodies of the own-format endpoints, added to the collector's OpenAPI document.

The handlers read the raw body, because the signature covers it byte for byte, so FastAPI sees no
body parameter to document. Channel integrators need the schema all the same: one event, or a
batch of up to the configured number.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from cxpulse_contracts import MentionSubmission, SurveySubmission

OWN_FORMAT_BODIES: dict[str, type[BaseModel]] = {"/v1/surveys": SurveySubmission, "/v1/mentions": MentionSubmission}


def document_request_bodies(document: dict[str, Any], *, max_batch: int) -> dict[str, Any]:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for path, model in OWN_FORMAT_BODIES.items():
        model_schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
        one = {"$ref": f"#/components/schemas/{model.__name__}"}
        batch = {"type": "array", "items": one, "minItems": 1, "maxItems": max_batch}
        document["paths"][path]["post"]["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"oneOf": [one, batch]}}},
        }
    return document
