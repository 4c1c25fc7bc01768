"""Property-based tests of the HTTP API against its own OpenAPI document (issue 11).

Hypothesis generates requests for every operation of ``/openapi.json``: bodies valid by the
request schemas (tests/schema_strategies.py), arbitrary JSON around the documented fields, raw
bytes, and path parameters. For every one, on the real app with the real voice:

- no answer is a 5xx, and every answer is one the document lists (status, content type, JSON
  body against its schema);
- a body the schema refuses is refused (4xx), and a body it accepts is spoken (2xx) unless
  the refusal depends on what is installed here, which a schema cannot say (an unknown
  voice or model name, a text with nothing speakable, a format this libsndfile lacks).

Bounded so that ``make test`` stays fast: a fixed number of examples per test, derandomized
(the same examples every run, no example database), texts of at most 24 characters.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import RecordingOutput
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_check import check, json_of
from schema_strategies import from_schema

from macbot.config import AppConfig
from macbot.core.formats import supported_formats
from macbot.core.playback import Player
from macbot.core.voices import list_voices
from macbot.daemon.app import create_app
from macbot.daemon.openai import MODELS, OPENAI_VOICES
from macbot.daemon.ops import openapi_document

SPEC = openapi_document()

BOUNDED = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

VOICES = {v.name for v in list_voices(AppConfig().tts.voices_dir)}
"""The voices installed here (the tests' config uses the default voices folder)."""

SPEECH_ROUTES = {"/speak": "SpeakRequest", "/v1/audio/speech": "SpeechRequest"}


@pytest.fixture(scope="module")
def client(shared_synth):
    app = create_app(
        shared_synth.config, synthesizer=shared_synth, player=Player(RecordingOutput())
    )
    return app.test_client()


def request_schema(name: str) -> dict[str, Any]:
    """A request schema of the document, with its components."""
    return {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}


def generation_schema(name: str, default_voice: str) -> dict[str, Any]:
    """The request schema narrowed for generating: texts of at most 24 characters (fast to
    synthesize) and voice and model names drawn from those that exist here and one that does
    not (a random string is almost never a voice). Every value is still valid by the spec."""
    components = copy.deepcopy(SPEC["components"])
    schemas = components["schemas"]
    schemas["Text"]["maxLength"] = 24
    voices = [None, "default", default_voice, "nobody-such"]
    schemas["VoiceName"] = {"enum": voices}
    speech = schemas["SpeechRequest"]["properties"]
    speech["voice"] = {"enum": [*voices, "alloy", "Echo", {"id": "nova"}, {"id": default_voice}]}
    speech["model"] = {"enum": ["tts-1", "tts-1-hd", "piper", default_voice, "gpt-5"]}
    return {"$ref": f"#/components/schemas/{name}", "components": components}


VALIDATORS = {
    route: Draft202012Validator(request_schema(name)) for route, name in SPEECH_ROUTES.items()
}


def code_of(resp) -> str | None:
    body = json_of(resp)
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    return error.get("code") if isinstance(error, dict) else body.get("code")


def post(client, route: str, body: Any = None, data: bytes | None = None):
    if data is None:
        data = json.dumps(body).encode("utf-8")
    return client.post(route, data=data, content_type="application/json")


def conforms(resp, route: str, method: str = "post") -> None:
    assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
    check(SPEC, resp, route, method)


# -- bodies the schemas accept ------------------------------------------------------------------


@pytest.mark.parametrize("route", list(SPEECH_ROUTES))
@BOUNDED
@given(data=st.data())
def test_valid_bodies_are_spoken_and_answers_conform(client, shared_synth, route, data):
    voice = shared_synth.default_voice.name
    body = data.draw(from_schema(generation_schema(SPEECH_ROUTES[route], voice)))
    assert VALIDATORS[route].is_valid(body)
    if route == "/speak" and body.get("play", not body.get("stream", False)):
        body["play"] = False  # the recording sound card would queue every example
    resp = post(client, route, body)
    conforms(resp, route)
    if resp.status_code >= 400:
        assert code_of(resp) in refusals_expected(route, body, VOICES), (body, json_of(resp))


def refusals_expected(route: str, body: dict, voices: set[str]) -> set[str]:
    """The refusals a schema-valid body may get here, where ``voices`` are installed: a
    voice or model name that is not installed, a format this libsndfile lacks, or a text with
    nothing speakable. Anything else a valid body gets must be a 2xx."""
    expected = {"empty_text"}
    voice = body.get("voice")
    if isinstance(voice, dict):
        voice = voice.get("id")
    names = voices | {"default"}
    if route == "/v1/audio/speech":
        names |= set(OPENAI_VOICES)
        voice = (
            voice.lower() if isinstance(voice, str) and voice.lower() in OPENAI_VOICES else voice
        )
        if body.get("model") not in set(MODELS) | voices:
            expected.add("model_not_found")
        if body.get("response_format", "mp3") not in supported_formats():
            expected.add("unsupported_format")
    if voice is not None and voice not in names:
        expected.add("voice_not_found")
    if route == "/speak" and body.get("timestamps") is True and body.get("stream") is True:
        expected.add("invalid_request")  # timestamps answer JSON: not with a stream (issue 14)
    if route == "/speak" and body.get("captions") is not None and body.get("stream") is True:
        expected.add("invalid_request")  # so do captions (issue 19)
    return expected


# -- anything else ------------------------------------------------------------------------------

NASTY = st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "hi\x1bthere", "\x7f", " ", "", "\t\n", "v" * 300, "../x.onnx"]
) | st.sampled_from([10**400, -(10**400), 1e308, -0.0, 2**63, float("inf"), float("nan")])
"""Values that broke the daemon before issue 11 (lone surrogates, control characters, huge
numbers, long names, paths)."""

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | NASTY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


def field_values(route: str, voice: str) -> st.SearchStrategy[dict]:
    """Objects with some of the route's documented fields (values of any JSON type, or taken
    from their own schema) and a few other keys."""
    schema = SPEC["components"]["schemas"][SPEECH_ROUTES[route]]
    fields = list(schema["properties"])
    valid = from_schema(generation_schema(SPEECH_ROUTES[route], voice))
    return st.tuples(
        valid,
        st.dictionaries(st.sampled_from(fields), NASTY | JSON_VALUES, min_size=1, max_size=3),
        st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=2),
    ).map(lambda parts: {**parts[0], **parts[1], **parts[2]})


@pytest.mark.parametrize("route", list(SPEECH_ROUTES))
@BOUNDED
@given(data=st.data())
def test_any_json_is_refused_exactly_when_the_schema_refuses_it(client, shared_synth, route, data):
    body = data.draw(field_values(route, shared_synth.default_voice.name) | JSON_VALUES)
    if route == "/speak" and isinstance(body, dict) and body.get("play") is True:
        body["stream"] = body.get("stream", False)
    resp = post(client, route, body)
    conforms(resp, route)
    valid = VALIDATORS[route].is_valid(body)
    if not valid:
        assert 400 <= resp.status_code < 500, (body, resp.status_code)
    elif resp.status_code >= 400:
        assert code_of(resp) in refusals_expected(route, body, VOICES), (body, json_of(resp))


@pytest.mark.parametrize("route", list(SPEECH_ROUTES))
@BOUNDED
@given(
    data=st.binary(max_size=64)
    | st.text(max_size=64).map(str.encode)
    | st.sampled_from([b"[" * 30_000 + b"]" * 30_000, b'{"a":' * 20_000, b"\xff\xfe{}"])
)
def test_raw_bytes_are_never_a_server_error(client, route, data):
    conforms(post(client, route, data=data), route)


# -- the other operations -----------------------------------------------------------------------

GET_ROUTES = [
    (path, method)
    for path, item in SPEC["paths"].items()
    for method in item
    if "{" not in path and path not in SPEECH_ROUTES
]


@pytest.mark.parametrize(("path", "method"), GET_ROUTES)
def test_every_operation_without_parameters_conforms(client, path, method):
    conforms(client.open(path, method=method.upper()), path, method)


@BOUNDED
@given(job_id=st.integers(min_value=-(2**70), max_value=2**70))
def test_jobs_with_any_id_conform(client, job_id):
    resp = client.get(f"/jobs/{job_id}")
    if job_id < 0:  # not an int route: no such path at all
        assert resp.status_code == 404
        return
    conforms(resp, "/jobs/{job_id}", "get")


@BOUNDED
@given(model_id=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40))
def test_models_with_any_id_conform(client, model_id):
    from urllib.parse import quote

    resp = client.get("/v1/models/" + quote(model_id, safe=""))
    if resp.status_code == 404 and code_of(resp) == "not_found":
        return  # a path werkzeug does not route (an id that is only "." or "..")
    conforms(resp, "/v1/models/{model_id}", "get")
