"""Every refusal of the safe localhost service, over real HTTP: the answer is a JSON error,
nothing is spoken, and the daemon keeps serving."""

from __future__ import annotations

import openai
import pytest
from conftest import RecordingOutput, make_config, start_server

from macbot.daemon.security import check_headers, is_loopback, split_host
from macbot.daemon.state import state_of
from macbot.errors import Unauthorized

SPEECH = {"model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "wav"}


@pytest.fixture(scope="module")
def live(shared_synth):
    """One guarded daemon for the module; nothing may ever be spoken on it."""
    server_live, server, thread = start_server(shared_synth.config, RecordingOutput(), shared_synth)
    yield server_live
    server.request_stop()
    thread.join(timeout=5)
    state_of(server_live.app).player.close()


def assert_nothing_spoken_and_still_serving(live) -> None:
    # Wait for the player to go idle: anything queued by the refused request would be played.
    state_of(live.app).player.enqueue([]).wait(10)
    assert live.output.played == []
    assert live.get("/health").status_code == 200
    ok = live.post("/v1/audio/speech", json=SPEECH)
    assert ok.status_code == 200 and ok.content[:4] == b"RIFF"


def openai_error(resp) -> dict:
    body = resp.json()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    return body


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8123",
        "localhost.evil.example",
        "127.0.0.1.nip.io:8123",
        "192.168.1.20:8123",
        "[::1",
        "localhost:notaport",
    ],
)
def test_foreign_host_header_is_refused(live, host):
    """DNS rebinding: the page's host name resolves to 127.0.0.1 but the Host header tells."""
    resp = live.post("/speak", json={"text": "Hi."}, headers={"Host": host})
    assert resp.status_code == 403
    assert "not allowed" in resp.json()["error"]
    resp = live.post("/v1/audio/speech", json=SPEECH, headers={"Host": host})
    assert resp.status_code == 403
    assert openai_error(resp)["code"] == "host_not_allowed"
    assert_nothing_spoken_and_still_serving(live)


@pytest.mark.parametrize(
    "host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "LOCALHOST", "127.0.0.2"]
)
def test_loopback_names_are_served(live, host):
    port = live.url.rsplit(":", 1)[1]
    resp = live.get("/health", headers={"Host": host.format(port=port)})
    assert resp.status_code == 200


def test_configured_allowed_host(shared_synth):
    config = make_config(server__allowed_hosts=["macbot.lan"])
    live, server, thread = start_server(config, RecordingOutput(), shared_synth)
    try:
        assert live.get("/health", headers={"Host": "macbot.lan:8123"}).status_code == 200
        assert live.get("/health", headers={"Host": "other.lan"}).status_code == 403
    finally:
        server.request_stop()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "https://127.0.0.1:{port}"},
        {"Origin": "http://localhost:{port}"},  # another origin than 127.0.0.1:port
        {"Origin": "http://127.0.0.1:1"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_origin_browser_requests_are_refused(live, headers):
    port = live.url.rsplit(":", 1)[1]
    headers = {k: v.format(port=port) for k, v in headers.items()}
    resp = live.post("/speak", json={"text": "Hi."}, headers=headers)
    assert resp.status_code == 403
    assert "cross" in resp.json()["error"]
    resp = live.post("/v1/audio/speech", json=SPEECH, headers=headers)
    assert resp.status_code == 403 and openai_error(resp)["code"] == "cross_origin"
    assert_nothing_spoken_and_still_serving(live)


def test_same_origin_is_served(live):
    resp = live.post("/v1/audio/speech", json=SPEECH, headers={"Origin": live.url})
    assert resp.status_code == 200


@pytest.fixture
def token_server(shared_synth):
    config = make_config(server__auth_token="s3cret-token")
    live, server, thread = start_server(config, RecordingOutput(), shared_synth)
    yield live
    server.request_stop()
    thread.join(timeout=5)


@pytest.mark.parametrize(
    "auth", [None, "Bearer wrong", "Bearer s3cret-toke", "Basic czNjcmV0LXRva2Vu", "Bearer "]
)
def test_missing_or_wrong_token_is_401(token_server, auth):
    headers = {"Authorization": auth} if auth else {}
    resp = token_server.post("/speak", json={"text": "Hi."}, headers=headers)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in resp.json()["error"]
    for path in ("/config", "/metrics", "/voices", "/openapi.json"):
        assert token_server.get(path, headers=headers).status_code == 401
    assert token_server.post("/v1/audio/speech", json=SPEECH, headers=headers).status_code == 401
    state_of(token_server.app).player.enqueue([]).wait(10)
    assert token_server.output.played == []
    assert token_server.get("/health").status_code == 200  # open: launchd polls it
    page = token_server.get("/")  # open: the static page holds no secret ...
    assert page.status_code == 200 and "s3cret" not in page.text
    assert token_server.get("/info", headers=headers).status_code == 401  # ... its data is not
    assert token_server.post("/", headers=headers).status_code == 401  # only GET is open
    # Only the HTTP page: the WebSocket, whose path is "/" too, still needs the token.
    refusal = check_headers(token_server_config(token_server), {"Host": "127.0.0.1"}, "/")
    assert isinstance(refusal, Unauthorized)


def token_server_config(live):
    return state_of(live.app).config


def test_right_token_is_served(token_server):
    good = {"Authorization": "Bearer s3cret-token"}
    resp = token_server.post("/speak", json={"text": "Hi."}, headers=good)
    assert resp.status_code == 200 and resp.json()["status"] == "queued"


def test_openai_client_uses_the_token_as_api_key(token_server):
    url = token_server.url + "/v1"
    with (
        openai.OpenAI(base_url=url, api_key="wrong", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
    with openai.OpenAI(base_url=url, api_key="s3cret-token", max_retries=0) as client:
        audio = client.audio.speech.create(
            model="tts-1", voice="alloy", input="Hi.", response_format="wav"
        )
        assert audio.content[:4] == b"RIFF"


def test_token_from_environment(shared_synth, monkeypatch):
    monkeypatch.setenv("MACBOT_TOKEN", "from-env")
    live, server, thread = start_server(make_config(), RecordingOutput(), shared_synth)
    try:
        assert live.get("/info").status_code == 401
        assert live.get("/info", headers={"Authorization": "Bearer from-env"}).status_code == 200
    finally:
        server.request_stop()
        thread.join(timeout=5)


LONG = "x" * 5001

OPENAI_BAD = [
    ({**SPEECH, "input": LONG}, 400, "input", "too long"),  # OpenAI's status for it
    ({**SPEECH, "input": 42}, 400, "input", "must be a string"),
    ({**SPEECH, "input": "  "}, 400, "input", "empty"),
    ({"model": "tts-1", "voice": "alloy"}, 400, "input", "missing"),
    ({**SPEECH, "model": 5}, 400, "model", "must be a string"),
    ({**SPEECH, "model": "gpt-9"}, 400, "model", "unknown model"),
    ({**SPEECH, "voice": 3}, 400, "voice", "must be a string"),
    ({**SPEECH, "voice": "nobody"}, 400, "voice", "unknown voice 'nobody'"),
    ({**SPEECH, "voice": "/etc/passwd.onnx"}, 400, "voice", "unknown voice"),
    ({**SPEECH, "speed": 9}, 400, "speed", "between 0.25 and 4"),
    ({**SPEECH, "speed": 0.1}, 400, "speed", "between 0.25 and 4"),
    ({**SPEECH, "speed": "fast"}, 400, "speed", "must be a number"),
    ({**SPEECH, "speed": True}, 400, "speed", "must be a number"),
    ({**SPEECH, "response_format": "wma"}, 400, "response_format", "unsupported"),
    ({**SPEECH, "response_format": 1}, 400, "response_format", "must be a string"),
    ({**SPEECH, "stream_format": "chunks"}, 400, "stream_format", "'audio' or 'sse'"),
    ({**SPEECH, "stream": "yes"}, 400, "stream", "true or false"),
    ({**SPEECH, "instructions": ["x"]}, 400, "instructions", "must be a string"),
    ([1, 2], 400, None, "JSON object"),
]


@pytest.mark.parametrize(("body", "status", "param", "fragment"), OPENAI_BAD)
def test_bad_openai_request(live, body, status, param, fragment):
    resp = live.post("/v1/audio/speech", json=body)
    assert resp.status_code == status
    error = openai_error(resp)
    assert fragment in error["message"]
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert_nothing_spoken_and_still_serving(live)


def test_openai_malformed_json_and_oversized_body(live):
    resp = live.post(
        "/v1/audio/speech", data=b'{"input": "hi"', headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400 and "JSON object" in openai_error(resp)["message"]
    big = b'{"model": "tts-1", "input": "' + b"a" * 70_000 + b'"}'
    resp = live.post("/v1/audio/speech", data=big, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and "too large" in openai_error(resp)["message"]
    assert_nothing_spoken_and_still_serving(live)


def test_speak_refusals_speak_nothing(live):
    """/speak's own 400/413 checks (tested in test_http) also hold behind the guard."""
    for body in ({"text": LONG}, {"text": "hi", "speed": 0}, {"text": "hi", "voice": "nobody"}):
        assert live.post("/speak", json=body).status_code in (400, 413)
    assert_nothing_spoken_and_still_serving(live)


def test_host_parsing():
    assert split_host("localhost:8123") == ("localhost", "8123")
    assert split_host("[::1]:80") == ("::1", "80")
    assert split_host("::1") == ("::1", None)
    assert split_host("a:b:c:d") == ("a:b:c:d", None)
    assert split_host("host:0") is None and split_host("") is None
    assert is_loopback("127.0.0.2") and is_loopback("::1") and not is_loopback("10.0.0.1")


def test_allowed_hosts_config_and_exposure_warning(caplog):
    from macbot.config import ConfigError
    from macbot.daemon.security import allowed_host_names, warn_if_exposed

    with pytest.raises(ConfigError, match=r"server\.allowed_hosts: expected a list"):
        make_config(server__allowed_hosts="macbot.lan")
    config = make_config(server__host="192.168.1.5", server__allowed_hosts=["Macbot.LAN"])
    assert {"192.168.1.5", "macbot.lan", "localhost"} <= allowed_host_names(config)
    warn_if_exposed(config)
    assert "SECURITY" in caplog.text and "NO auth token" in caplog.text
    caplog.clear()
    warn_if_exposed(make_config())
    assert caplog.text == ""
