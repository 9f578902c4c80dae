"""The OpenAPI 3.1 document of the integration API, its errors and its
webhook events, served at /api/v1/openapi.json, and a readable reference
page made from it at /docs/api (server-rendered: no script, no CDN).

Its lists of values (statuses, methods, event types, limits) are read from
the code that decides them, and the tests check every answer the API gives
against it (tests/support/openapi.py) and run Schemathesis against a live
portal: the document cannot drift from what the API does."""

import re
from functools import cache

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from ..methods import REGISTRY
from ..models import VerificationSession
from ..services.idempotency import KEY_MAX_LENGTH
from ..services.sessions import EXTERNAL_REF_MAX_LENGTH, LOCALE_ALIASES
from ..services.webhooks import EVENT_TYPES
from .api import EVENTS_KEPT_DAYS, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX

JSON = "application/json"
DATE_TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {JSON: {"schema": schema}}


def _nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]} if "$ref" in schema else {**schema, "type": [schema["type"], "null"]}


RATE_HEADERS = {
    "RateLimit-Limit": {"$ref": "#/components/headers/RateLimit-Limit"},
    "RateLimit-Remaining": {"$ref": "#/components/headers/RateLimit-Remaining"},
    "RateLimit-Reset": {"$ref": "#/components/headers/RateLimit-Reset"},
}


def _answer(description: str, schema: dict | None = None, **headers) -> dict:
    answer = {"description": description, "headers": {**RATE_HEADERS, **headers}}
    if schema is not None:
        answer["content"] = _json(schema)
    return answer


def _error(name: str) -> dict:
    return {"$ref": f"#/components/responses/{name}"}


def _errors(*statuses: str) -> dict:
    names = {"400": "InvalidRequest", "401": "Unauthorized", "404": "NotFound", "409": "Conflict",
             "413": "PayloadTooLarge", "415": "UnsupportedMediaType", "429": "RateLimited"}
    return {status: _error(names[status]) for status in statuses}


def _route() -> dict:
    """What a session and its events say of the method (docs/routing.md)."""
    return {
        "method": {"type": ["string", "null"], "enum": [*REGISTRY, None],
                   "description": "the method that runs; null while an `auto` session has not chosen one"},
        "method_requested": {"type": "string", "enum": [*REGISTRY, "auto"],
                             "description": "what the session was created with"},
        "methods_tried": {"type": "array", "items": {"type": "string", "enum": list(REGISTRY)},
                          "description": "every method the session was routed to, in order, the running one last"},
    }


def _session_schemas() -> dict:
    S = VerificationSession
    return {
        "SessionCreate": {
            "type": "object",
            "description": "A new session. `null` stands for an optional field left out; an unknown field, "
                           "or a value of the wrong type, is a 400 naming the field.",
            "required": ["method", "external_ref"],
            "additionalProperties": False,
            "properties": {
                "method": {"type": "string", "enum": [*REGISTRY, "auto"],
                           "description": "the verification method, or `auto`: the first of `methods` (or the "
                                          "client's order) the person's device can do and whose vendor is up "
                                          "(docs/routing.md)"},
                "methods": {"type": ["array", "null"], "items": {"type": "string", "enum": list(REGISTRY)},
                            "minItems": 1, "uniqueItems": True,
                            "description": "with `auto` only: the order it tries methods in; default the client's"},
                "external_ref": {"type": "string", "minLength": 1, "maxLength": EXTERNAL_REF_MAX_LENGTH,
                                 "description": "your own reference (an order, a customer)"},
                "realname": {"type": ["string", "null"], "maxLength": 64, "description": "the person's name"},
                "idcard": {"type": ["string", "null"], "description": "a Chinese resident ID number (18 characters)"},
                "reference_photo": {"type": ["string", "null"],
                                    "description": "a base64 JPEG or PNG to compare the face with"},
                "options": {"type": ["object", "null"], "description": "per method (see the README)"},
                "return_url": {"type": ["string", "null"], "format": "uri",
                               "description": "where the person goes at the end; on one of your allowed origins"},
                "locale": {"type": ["string", "null"], "enum": [*LOCALE_ALIASES, None],
                           "description": "the person's language (any case); left out, the pages follow the "
                                          "person's browser (Accept-Language), and a one-tap switch on every page "
                                          "lets the person change it"},
            },
        },
        "SessionCreated": {
            "type": "object",
            "required": ["id", "url", "status", "expires_at", "iframe_allow"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "url": {"type": "string", "format": "uri", "description": "the link to open or embed"},
                "status": {"type": "string", "enum": S.Status.values},
                "expires_at": DATE_TIME,
                "iframe_allow": {"type": "string", "description": "the `allow` attribute an embedding iframe needs"},
            },
        },
        "Session": {
            "type": "object",
            "required": ["id", "external_ref", "method", "method_requested", "methods_tried", "status",
                         "review_status", "attempts_used",
                         "attempts_left", "retry_allowed", "result", "created_at", "expires_at", "completed_at"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "external_ref": {"type": "string"},
                **_route(),
                "status": {"type": "string", "enum": S.Status.values},
                "review_status": {"type": "string", "enum": S.ReviewStatus.values},
                "attempts_used": {"type": "integer", "minimum": 0},
                "attempts_left": {"type": "integer", "minimum": 0,
                                  "description": "grows when a reviewer asks the person to try again"},
                "retry_allowed": {"type": "boolean",
                                  "description": "the person may start another attempt on the same link now"},
                "result": _ref("SessionResult"),
                "created_at": DATE_TIME,
                "expires_at": DATE_TIME,
                "completed_at": _nullable(DATE_TIME),
            },
        },
        "SessionResult": {
            "type": "object",
            "required": ["passed", "reason", "vendor", "vendor_code", "scores"],
            "additionalProperties": False,
            "properties": {
                "passed": {"type": ["boolean", "null"], "description": "null until the attempt has an outcome"},
                "reason": {"type": "string", "description": "a code: passed, not_live, face_mismatch, "
                           "link_expired, declined, cancelled_by_client, vendor_timeout, …"},
                "vendor": {"type": ["string", "null"], "description": "whose answer decided the attempt"},
                "vendor_code": {"type": ["string", "null"],
                                "description": "that vendor's answer code, pass or fail (Tencent and Juhe: "
                                               "\"0\" when the scores decided); null when no vendor answered"},
                "scores": {
                    "type": "object",
                    "description": "each score beside its threshold (`similarity` and "
                                   "`similarity_threshold`, `living_score` and `living_threshold`, …)",
                    "additionalProperties": {"type": ["number", "string", "null"]},
                },
            },
        },
        "SessionList": _list_schema("Session"),
    }


def _list_schema(item: str) -> dict:
    return {
        "type": "object",
        "required": ["data", "has_more", "next_cursor"],
        "additionalProperties": False,
        "properties": {
            "data": {"type": "array", "items": _ref(item), "description": "newest first"},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"],
                            "description": "pass as `cursor` for the next page; null on the last page"},
        },
    }


def _event_schemas() -> dict:
    S = VerificationSession
    return {
        "EventData": {
            "type": "object",
            "description": "what the event says about the session: no name, ID number or media",
            "required": ["session_id", "external_ref", "method", "method_requested", "methods_tried", "status",
                         "review_status", "passed", "reason", "vendor_code", "sequence"],
            "additionalProperties": False,
            "properties": {
                "session_id": {"type": "string", "format": "uuid"},
                "external_ref": {"type": "string"},
                **_route(),
                "status": {"type": "string", "enum": S.Status.values},
                "review_status": {"type": "string", "enum": S.ReviewStatus.values},
                "passed": {"type": ["boolean", "null"]},
                "reason": {"type": "string"},
                "vendor_code": {"type": "string"},
                "sequence": {"type": "integer", "minimum": 1,
                             "description": "grows with each event of a session: drop a lower one that arrives late"},
            },
        },
        "WebhookPayload": {
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": list(EVENT_TYPES)},
                "timestamp": DATE_TIME,
                "data": _ref("EventData"),
            },
        },
        "Event": {
            "type": "object",
            "required": ["id", "type", "created_at", "data", "delivery"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "description": "the webhook message's `webhook-id`"},
                "type": {"type": "string", "enum": list(EVENT_TYPES)},
                "created_at": DATE_TIME,
                "data": _ref("EventData"),
                "delivery": {
                    "type": "object",
                    "required": ["state", "attempts", "delivered_at"],
                    "additionalProperties": False,
                    "properties": {
                        "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                        "attempts": {"type": "integer", "minimum": 0},
                        "delivered_at": _nullable(DATE_TIME),
                    },
                },
            },
        },
        "EventList": _list_schema("Event"),
    }


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "for programs: invalid_request, malformed_json, "
                         "unauthorized, key_revoked, key_expired, wrong_mode, not_found, method_not_allowed, "
                         "idempotency_conflict, idempotency_in_progress, session_processing, session_final, "
                         "session_changed, payload_too_large, unsupported_media_type, rate_limited, server_error"},
                "message": {"type": "string", "description": "for people"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "what is wrong with each field, header or query parameter"},
            },
        }
    },
}


def _responses() -> dict:
    error = _json(_ref("Error"))

    def answer(description, **headers):
        return {"description": description, "headers": {**RATE_HEADERS, **headers}, "content": error}

    return {
        "InvalidRequest": answer("A field, header or query parameter is not valid (`fields` names each), or the "
                                 "body is not JSON."),
        "Unauthorized": {"description": "No valid API key (`unauthorized`), or a key revoked, expired or of "
                                        "the other mode.", "content": error},
        "NotFound": answer("No session with this id for this API key."),
        "Conflict": answer("The Idempotency-Key was used for another request (`idempotency_conflict`) or its "
                           "first request is still running (`idempotency_in_progress`); or the session cannot "
                           "be cancelled now."),
        "PayloadTooLarge": answer("The body is over the size limit."),
        "UnsupportedMediaType": answer("The body is not application/json."),
        "RateLimited": answer("Too many requests for this API key; retry after `Retry-After` seconds.",
                              **{"Retry-After": {"$ref": "#/components/headers/Retry-After"}}),
    }


def _headers() -> dict:
    def integer(description):
        return {"description": description, "required": True, "schema": {"type": "integer", "minimum": 0}}

    return {
        "RateLimit-Limit": integer("requests allowed in the current window (per API key)"),
        "RateLimit-Remaining": integer("requests left in the current window"),
        "RateLimit-Reset": integer("seconds until the window ends"),
        "Retry-After": integer("seconds to wait before retrying"),
        "Idempotent-Replayed": {"description": "`true` on an answer repeated for an Idempotency-Key",
                                "schema": {"type": "string", "enum": ["true"]}},
    }


def _parameters() -> dict:
    S = VerificationSession

    def query(name, schema, description):
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    moment = {"type": "string", "format": "date-time"}
    return {
        "SessionId": {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"},
                      "description": "the session's `id`"},
        "Limit": query("limit", {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX},
                       f"items per page (default {PAGE_SIZE_DEFAULT})"),
        "Cursor": query("cursor", {"type": "string"}, "`next_cursor` of the page before"),
        "ExternalRef": query("external_ref", {"type": "string", "minLength": 1, "maxLength": 128},
                             "only sessions with this external_ref"),
        "Status": query("status", {"type": "string", "enum": S.Status.values}, "only sessions in this status"),
        "ReviewStatus": query("review_status", {"type": "string", "enum": S.ReviewStatus.values},
                              "only sessions with this review status"),
        "CreatedAfter": query("created_after", moment, "created at or after this time (RFC 3339, with offset)"),
        "CreatedBefore": query("created_before", moment, "created before this time (RFC 3339, with offset)"),
        "EventType": query("type", {"type": "string", "enum": list(EVENT_TYPES)}, "only events of this type"),
        "IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "pattern": f"^[!-~]{{1,{KEY_MAX_LENGTH}}}$"},
            "description": "a key of yours (a UUID): a retry with the same key and body gets the first answer "
                           "again for 24 hours; the same key with another body is a 409",
        },
    }


def _param(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _paths() -> dict:
    return {
        "/api/v1/sessions": {
            "post": {
                "operationId": "createSession",
                "summary": "Create a session",
                "parameters": [_param("IdempotencyKey")],
                "requestBody": {"required": True, "content": _json(_ref("SessionCreate"))},
                "responses": {
                    "201": _answer("The session, with the link to open or embed.", _ref("SessionCreated"),
                                   **{"Idempotent-Replayed": {"$ref": "#/components/headers/Idempotent-Replayed"}}),
                    **_errors("400", "401", "409", "413", "415", "429"),
                },
            },
            "get": {
                "operationId": "listSessions",
                "summary": "List sessions, newest first",
                "parameters": [_param(name) for name in ("Limit", "Cursor", "ExternalRef", "Status", "ReviewStatus",
                                                          "CreatedAfter", "CreatedBefore")],
                "responses": {"200": _answer("One page of sessions.", _ref("SessionList")),
                              **_errors("400", "401", "429")},
            },
        },
        "/api/v1/sessions/{session_id}": {
            "parameters": [_param("SessionId")],
            "get": {
                "operationId": "getSession",
                "summary": "Read a session and its outcome",
                "responses": {"200": _answer("The session.", _ref("Session")), **_errors("401", "404", "429")},
            },
        },
        "/api/v1/sessions/{session_id}/cancel": {
            "parameters": [_param("SessionId")],
            "post": {
                "operationId": "cancelSession",
                "summary": "Cancel a session that is not final",
                "description": "Ends the session for good: status `cancelled`, reason `cancelled_by_client`, "
                               "and a `session.completed` webhook. Refused (409) while a recording is being "
                               "checked (`session_processing`) and once final (`session_final`).",
                "responses": {"200": _answer("The cancelled session.", _ref("Session")),
                              **_errors("401", "404", "409", "429")},
            },
        },
        "/api/v1/events": {
            "get": {
                "operationId": "listEvents",
                "summary": f"Webhook events of the last {EVENTS_KEPT_DAYS} days, newest first",
                "parameters": [_param("Limit"), _param("Cursor"), _param("EventType")],
                "responses": {"200": _answer("One page of events.", _ref("EventList")),
                              **_errors("400", "401", "429")},
            },
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApiDocument",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                                      "content": _json({"type": "object"})}},
            },
        },
    }


def _webhooks() -> dict:
    headers = [
        {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "the message's id, the same on every retry: drop repeats"},
        {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "Unix seconds"},
        {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` (Standard Webhooks)"},
    ]
    descriptions = {
        "session.completed": "An attempt of a session ended (passed, failed, error, expired) or the session "
                             "was cancelled.",
        "session.reviewed": "A reviewer approved or rejected a session.",
    }
    return {
        event: {
            "post": {
                "summary": event,
                "description": descriptions.get(event, event),
                "parameters": headers,
                "requestBody": {"required": True, "content": _json(_ref("WebhookPayload"))},
                "responses": {"2XX": {"description": "Received; any other answer is retried."}},
            }
        }
        for event in EVENT_TYPES
    }


@cache
def _document(site_url: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "KYC liveness portal API",
            "version": "1",
            "description": "Create liveness verification sessions, read their outcomes, and receive webhooks. "
                           "Every answer is JSON; every error is `{\"error\": {\"code\", \"message\", "
                           "\"fields\"?}}`.",
        },
        "servers": [{"url": site_url}],
        "security": [{"apiKey": []}],
        "paths": _paths(),
        "webhooks": _webhooks(),
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "`Authorization: Bearer kyc_test_…` (sandbox) or "
                                                          "`kyc_live_…`"}},
            "schemas": {"Error": ERROR_SCHEMA, **_session_schemas(), **_event_schemas()},
            "responses": _responses(),
            "parameters": _parameters(),
            "headers": _headers(),
        },
    }


def document() -> dict:
    return _document(settings.SITE_URL)


@require_GET
def document_view(request):
    response = JsonResponse(document(), json_dumps_params={"indent": 1})
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def reference_page(request):
    """The document as a page people read: each operation, its parameters,
    its answers and the schemas, rendered here (no script)."""
    spec = _with_code_marks(document())
    operations = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for verb, operation in item.items():
            if verb == "parameters":
                continue
            operations.append({
                "verb": verb.upper(), "path": path, "operation": operation,
                "parameters": [_resolve(spec, p) for p in shared + operation.get("parameters", [])],
                "responses": [(status, _resolve(spec, answer)) for status, answer in operation["responses"].items()],
                "body": _schema_name(operation.get("requestBody")),
            })
    schemas = [(name, schema, sorted(schema.get("properties", {}).items()))
               for name, schema in spec["components"]["schemas"].items()]
    return render(request, "api_reference.html", {
        "spec": spec, "operations": operations, "schemas": schemas, "webhooks": list(spec["webhooks"].items()),
    })


def _with_code_marks(item):
    """A copy whose descriptions show `code` as code (escaped first)."""
    if isinstance(item, dict):
        return {key: (mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(value)))
                      if key == "description" and isinstance(value, str) else _with_code_marks(value))
                for key, value in item.items()}
    if isinstance(item, list):
        return [_with_code_marks(value) for value in item]
    return item


def _resolve(spec: dict, item: dict) -> dict:
    while "$ref" in item:
        _hash, *parts = item["$ref"].split("/")
        found = spec
        for part in parts:
            found = found[part]
        item = found
    return item


def _schema_name(body: dict | None) -> str:
    if not body:
        return ""
    return body["content"][JSON]["schema"].get("$ref", "").rsplit("/", 1)[-1]
