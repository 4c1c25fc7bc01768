"""The conformance check shared by the OpenAPI tests: a response is one of the documented
responses of its operation (status, content type, JSON body against the schema)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator


def json_of(resp: Any) -> Any:
    """The JSON body of a ``requests`` response or a Flask test response."""
    body = resp.json
    return body() if callable(body) else body


def check(spec: dict, resp: Any, path: str, method: str) -> None:
    """``resp`` is one of the documented responses of the operation, body included."""
    operation = spec["paths"][path][method]
    documented = operation["responses"]
    status = str(resp.status_code)
    assert status in documented, f"{method.upper()} {path}: {status} is not documented"
    response = documented[status]
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    mime = resp.headers["Content-Type"].split(";")[0].strip()
    assert mime in response["content"], f"{method.upper()} {path} {status}: {mime} undocumented"
    if mime == "application/json":
        schema = {**response["content"][mime]["schema"], "components": spec["components"]}
        errors = list(Draft202012Validator(schema).iter_errors(json_of(resp)))
        assert not errors, f"{method.upper()} {path} {status}: {errors[0].message}"
