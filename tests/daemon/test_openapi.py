"""The published OpenAPI document matches the app: every route is documented (and nothing
else), and real responses of the live server conform to it (status, content type, JSON
schema)."""

from __future__ import annotations

import re
from typing import ClassVar

import pytest
from conftest import RecordingOutput, make_config, start_server
from jsonschema import Draft202012Validator
from openapi_check import check

from macbot.daemon.ops import openapi_document, served_document
from macbot.daemon.state import state_of

SPEECH = {"model": "tts-1", "input": "Spec check.", "voice": "alloy"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return openapi_document()


def app_operations(app) -> set[tuple[str, str]]:
    ops = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        ops.update((path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"})
    return ops


def spec_operations(spec: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in spec["paths"].items() for method in item}


def test_document_is_openapi_31_with_valid_schemas(spec, live_server):
    assert spec["openapi"].startswith("3.1")
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    served = live_server.get("/openapi.json")
    st = state_of(live_server.app)
    own = served_document(st.config.server.max_text_chars, st.voice_names())
    assert served.status_code == 200 and served.json() == own
    for schema in own["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    # the packaged document with this daemon's limit and names, nothing else
    schemas, packaged = own["components"]["schemas"], spec["components"]["schemas"]
    assert {k for k in schemas if schemas[k] != packaged[k]} <= {
        "Text",
        "VoiceName",
        "SpeechRequest",
    }
    assert {k: v for k, v in own.items() if k != "components"} == {
        k: v for k, v in spec.items() if k != "components"
    }


def test_every_route_is_documented_and_every_documented_route_exists(spec, live_server):
    in_app = app_operations(live_server.app)
    in_spec = spec_operations(spec)
    assert in_app - in_spec == set(), "routes missing from macbot/openapi.yaml"
    assert in_spec - in_app == set(), "documented routes the app lacks"


def test_live_responses_conform(spec, live_server):
    s = live_server
    s.post("/speak", json={"text": "Warm the stats.", "play": False})
    cases = [
        ("/health", "get", s.get("/health")),
        ("/", "get", s.get("/")),
        ("/speak", "post", s.post("/speak", json={"text": "Spec check.", "play": False})),
        ("/speak", "post", s.post("/speak", json={"text": "Spec check."})),
        ("/speak", "post", s.post("/speak", json={"text": 5})),
        ("/speak", "post", s.post("/speak", json={"text": "x" * 5001})),
        (
            "/speak",
            "post",
            s.post("/speak", data=b'{"text": "' + b"x" * 70_000 + b'"}', headers=JSON),
        ),
        ("/speak", "post", s.post("/speak", json={"text": "hi"}, headers={"Host": "evil.test"})),
        (
            "/speak",
            "post",
            s.post("/speak", json={"text": "Spec check.", "stream": True, "format": "pcm"}),
        ),
        ("/speak", "post", s.post("/speak", json={"text": "Spec.", "stream": True, "play": True})),
        ("/normalize", "post", s.post("/normalize", json={"text": "**Hi** at 5pm [[slnc 5]]"})),
        ("/normalize", "post", s.post("/normalize", json={"text": "<speak>x</speek>"})),
        ("/speak", "post", s.post("/speak", json={"text": "Hi", "normalize": {"emoji": 1}})),
        ("/jobs/{job_id}", "get", s.get("/jobs/1")),
        ("/jobs/{job_id}", "get", s.get("/jobs/999999")),
        ("/interrupt", "post", s.post("/interrupt")),
        ("/pause", "post", s.post("/pause")),
        ("/speak", "post", s.post("/speak", json={"text": "Held.", "policy": "interrupt"})),
        ("/jobs/{job_id}", "get", s.get("/jobs/2")),
        ("/resume", "post", s.post("/resume")),
        ("/speak", "post", s.post("/speak", json={"text": "Spec.", "policy": "shout"})),
        ("/interrupt", "post", s.post("/interrupt")),
        ("/devices", "get", s.get("/devices")),
        ("/cache", "delete", s.session.delete(s.url + "/cache", timeout=60)),
        ("/cache/clear", "post", s.post("/cache/clear")),
        ("/tts-performance", "get", s.get("/tts-performance")),
        ("/info", "get", s.get("/info")),
        ("/voices", "get", s.get("/voices")),
        ("/config", "get", s.get("/config")),
        ("/memory", "get", s.get("/memory")),
        ("/metrics", "get", s.get("/metrics")),
        ("/openapi.json", "get", s.get("/openapi.json")),
        ("/v1/models", "get", s.get("/v1/models")),
        ("/v1/models/{model_id}", "get", s.get("/v1/models/tts-1")),
        ("/v1/models/{model_id}", "get", s.get("/v1/models/nope")),
        ("/v1/audio/voices", "get", s.get("/v1/audio/voices")),
        ("/v1/audio/models", "get", s.get("/v1/audio/models")),
        ("/audio/voices", "get", s.get("/audio/voices")),
        ("/audio/models", "get", s.get("/audio/models")),
        ("/audio/speech", "post", s.post("/audio/speech", json={**SPEECH, "speed": 1.5})),
        ("/audio/speech", "post", s.post("/audio/speech", json={**SPEECH, "voice": "nobody"})),
        ("/hooks/claude", "post", s.post("/hooks/claude", json={"hook_event_name": "PreCompact"})),
        ("/hooks/claude", "post", s.post("/hooks/claude", json={"session_id": "x"})),
        (
            "/speak",
            "post",
            s.post("/speak", json={"text": "Spec.", "play": False, "captions": "srt"}),
        ),
        ("/v1/audio/speech", "post", s.post("/v1/audio/speech", json=SPEECH)),
        (
            "/v1/audio/speech",
            "post",
            s.post("/v1/audio/speech", json={**SPEECH, "response_format": "aac"}),
        ),
        (
            "/v1/audio/speech",
            "post",
            s.post("/v1/audio/speech", json={**SPEECH, "response_format": "pcm", "stream": True}),
        ),
        (
            "/v1/audio/speech",
            "post",
            s.post("/v1/audio/speech", json={**SPEECH, "stream_format": "sse"}),
        ),
        ("/v1/audio/speech", "post", s.post("/v1/audio/speech", json={**SPEECH, "speed": 5})),
        (
            "/v1/audio/speech",
            "post",
            s.post("/v1/audio/speech", json={**SPEECH, "input": "x" * 5001}),
        ),
        (
            "/v1/audio/speech",
            "post",
            s.post(
                "/v1/audio/speech",
                json={**SPEECH, "normalization_options": {"url_normalization": False}},
            ),
        ),
        (
            "/v1/audio/speech",
            "post",
            s.post("/v1/audio/speech", json=SPEECH, headers={"Origin": "http://evil.test"}),
        ),
    ]
    for path, method, resp in cases:
        check(spec, resp, path, method)
    statuses = {(p, r.status_code) for p, _, r in cases}
    assert {("/speak", 200), ("/speak", 400), ("/speak", 413), ("/speak", 403)} <= statuses


def test_token_refusals_conform(spec, shared_synth):
    config = make_config(server__auth_token="t0ken")
    live, server, thread = start_server(config, RecordingOutput(), shared_synth)
    try:
        check(spec, live.get("/config"), "/config", "get")
        check(spec, live.post("/v1/audio/speech", json=SPEECH), "/v1/audio/speech", "post")
        check(spec, live.get("/health"), "/health", "get")
        assert live.get("/config").status_code == 401
    finally:
        server.request_stop()
        thread.join(timeout=5)


def test_starting_health_conforms(spec, live_server):
    state = state_of(live_server.app)
    state.warming = True
    try:
        resp = live_server.get("/health")
        assert resp.status_code == 503 and resp.json()["status"] == "starting"
        check(spec, resp, "/health", "get")
    finally:
        state.warming = False


def test_checker_catches_a_nonconforming_body(spec):
    """The conformance check itself can fail (so the tests above mean something)."""

    class Fake:
        status_code = 200
        headers: ClassVar[dict[str, str]] = {"Content-Type": "application/json"}

        @staticmethod
        def json():
            return {"status": "ok", "ready": "yes", "version": "0.1.0", "failed_listeners": {}}

    with pytest.raises(AssertionError, match="not of type 'boolean'"):
        check(spec, Fake(), "/health", "get")


# -- issue 21: what schemathesis found between the document and the behaviour ------------------


def valid(document: dict, schema: str, body: object) -> bool:
    ref = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    return Draft202012Validator(ref).is_valid(body)


@pytest.fixture
def served(live_server) -> dict:
    return live_server.get("/openapi.json").json()


@pytest.mark.parametrize(
    ("voice", "status"), [(None, 200), ("", 400), (" ", 400), ("default", 200), ("nobody", 400)]
)
def test_schemathesis_normalize_voice_null_and_blank_agree_with_the_spec(
    spec, served, live_server, voice, status
):
    """``voice: null`` was answered 200 though the schema said string; ``""`` was refused
    though the schema allowed it (and ``/normalize`` took any string, a path too)."""
    body = {"text": "Hello at 5pm", "voice": voice}
    resp = live_server.post("/normalize", json=body)
    assert resp.status_code == status, resp.text
    assert valid(served, "NormalizeRequest", body) == (status == 200)
    if voice in (None, "", " "):
        assert valid(spec, "NormalizeRequest", body) == (status == 200)
    check(spec, resp, "/normalize", "post")


def test_schemathesis_policy_null_is_the_default_policy_as_the_spec_says(spec, live_server):
    """``policy: null`` was spoken (queued) though the schema's enum had no null."""
    body = {"text": "Policy check.", "policy": None}
    assert valid(spec, "SpeakRequest", body)
    resp = live_server.post("/speak", json=body)
    assert resp.status_code == 200 and resp.json()["policy"] == "queue"
    assert not valid(spec, "SpeakRequest", {**body, "policy": "shout"})
    live_server.post("/interrupt")


def test_schemathesis_names_are_enums_of_what_is_installed(served, live_server):
    """A voice or model name the schema allowed (any string) was refused with 400; the served
    document now lists the names this daemon has, so schema-valid means spoken."""
    default = live_server.synth.default_voice.name
    cases = [
        ("/speak", "SpeakRequest", {"text": "Hi.", "play": False, "voice": default}, True),
        ("/speak", "SpeakRequest", {"text": "Hi.", "play": False, "voice": "default"}, True),
        ("/speak", "SpeakRequest", {"text": "Hi.", "play": False, "voice": "nobody"}, False),
        ("/v1/audio/speech", "SpeechRequest", {**SPEECH, "voice": "ECHO"}, True),
        ("/v1/audio/speech", "SpeechRequest", {**SPEECH, "voice": {"id": default}}, True),
        ("/v1/audio/speech", "SpeechRequest", {**SPEECH, "voice": "nobody"}, False),
        ("/v1/audio/speech", "SpeechRequest", {**SPEECH, "voice": "echo."}, False),
        ("/v1/audio/speech", "SpeechRequest", {**SPEECH, "model": default}, True),
        ("/v1/audio/speech", "SpeechRequest", {**SPEECH, "model": "gpt-9"}, False),
    ]
    for path, schema, body, accepted in cases:
        resp = live_server.post(path, json=body)
        assert (resp.status_code == 200) == accepted, (body, resp.status_code, resp.text[:200])
        assert valid(served, schema, body) == accepted, body
        check(served, resp, path, "post")


@pytest.mark.parametrize(("path", "field"), [("/speak", "text"), ("/v1/audio/speech", "input")])
def test_schemathesis_text_over_max_length_is_a_400_as_the_spec_says(
    served, live_server, path, field
):
    """A text over ``maxLength`` was a 413, which no schema-driven client expects of a value
    the schema refuses; a body over ``server.max_body_bytes`` stays a 413."""
    limit = served["components"]["schemas"]["Text"]["maxLength"]
    assert limit == live_server.synth.config.server.max_text_chars
    base = {"play": False} if path == "/speak" else dict(SPEECH)
    resp = live_server.post(path, json={**base, field: "x" * (limit + 1)})
    assert resp.status_code == 400 and "too long" in resp.text
    assert not valid(
        served,
        "SpeakRequest" if path == "/speak" else "SpeechRequest",
        {**base, field: "x" * (limit + 1)},
    )
    check(served, resp, path, "post")
    big = b'{"' + field.encode() + b'": "' + b"x" * 70_000 + b'"}'
    assert live_server.post(path, data=big, headers=JSON).status_code == 413


def test_the_served_limit_follows_the_config():
    doc = served_document(120, {"en_US-joe-medium"})
    schemas = doc["components"]["schemas"]
    assert schemas["Text"]["maxLength"] == 120
    assert schemas["VoiceName"]["enum"] == ["en_US-joe-medium", "default", "auto", None]
    assert openapi_document()["components"]["schemas"]["Text"]["maxLength"] == 5000
