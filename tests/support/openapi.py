"""Every answer under /api/ that a test receives is checked against the
OpenAPI document (verification/web/openapi.py): its status is documented
for the operation, it is JSON, it carries the headers the document says it
must, and its body matches the schema. The `client` fixture (tests/conftest.py)
is a CheckedClient, so the whole suite's API calls keep the document honest."""

import re

from django.test import Client
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:kyc-portal-openapi"


class SchemaMismatch(AssertionError):
    pass


def _pointer_get(spec: dict, pointer: str):
    found = spec
    for part in pointer.lstrip("/").split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    return found


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _follow(spec: dict, pointer: str) -> tuple[str, dict]:
    item = _pointer_get(spec, pointer)
    while "$ref" in item:
        pointer = item["$ref"].removeprefix("#")
        item = _pointer_get(spec, pointer)
    return pointer, item


def _operation(spec: dict, method: str, path: str) -> str | None:
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return f"/paths/{_escape(template)}/{method.lower()}"
    return None


def check_response(method: str, path: str, response) -> None:
    """Raises SchemaMismatch when `response` is not what the document says."""
    from verification.web.openapi import document

    if not path.startswith("/api/"):
        return
    spec = document()
    registry = Registry().with_resource(BASE, Resource.from_contents(spec, default_specification=DRAFT202012))
    content_type = response.get("Content-Type", "")
    if not content_type.startswith("application/json"):
        raise SchemaMismatch(f"{method} {path}: {response.status_code} answered {content_type!r}, not JSON")
    body = response.json()
    operation = _operation(spec, method, path)
    status = str(response.status_code)
    if operation is None or (status == "405" and status not in _pointer_get(spec, operation)["responses"]):
        # No such operation (an unknown path or method): the error object all the same.
        schema_pointer = "/components/schemas/Error"
        headers = {}
    else:
        responses = _pointer_get(spec, operation)["responses"]
        key = status if status in responses else f"{status[0]}XX" if f"{status[0]}XX" in responses else None
        if key is None:
            raise SchemaMismatch(f"{method} {path}: status {status} is not documented ({sorted(responses)})")
        answer_pointer, answer = _follow(spec, f"{operation}/responses/{key}")
        schema_pointer = f"{answer_pointer}/content/application~1json/schema"
        headers = answer.get("headers", {})
    for name, header in headers.items():
        _pointer, header = _follow(spec, header["$ref"].removeprefix("#")) if "$ref" in header else ("", header)
        if header.get("required") and name not in response:
            raise SchemaMismatch(f"{method} {path}: {status} lacks the header {name}")
    validator = Draft202012Validator({"$ref": f"{BASE}#{schema_pointer}"}, registry=registry)
    errors = sorted(validator.iter_errors(body), key=lambda error: list(error.path))
    if errors:
        raise SchemaMismatch(f"{method} {path}: {status} body does not match {schema_pointer}: "
                             + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]))


class CheckedClient(Client):
    """Django's test client; answers under /api/ are checked against the document."""

    def request(self, **request):
        response = super().request(**request)
        check_response(request["REQUEST_METHOD"], request["PATH_INFO"], response)
        return response
