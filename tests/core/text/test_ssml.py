"""The SSML subset and macOS ``say``'s embedded commands: segments with their own rate, volume
and pauses; malformed input is a MarkupError at the right place; tags are never spoken."""

from __future__ import annotations

import pytest

from macbot.core.text import FrontEnd, TextOptions
from macbot.errors import MarkupError, UsageError

FRONT = FrontEnd("en-us", phonemes=frozenset("təˈmɑːoʊ hɛl"))


def segments(text: str, **options) -> list[dict]:
    return [s.to_dict() for s in FRONT.process(text, TextOptions(**options)).segments]


def test_ssml_elements():
    ssml = (
        '<speak>Hello <break time="500ms"/>'
        '<prosody rate="slow" volume="+6dB">slowly</prosody> '
        '<say-as interpret-as="characters">abc</say-as> '
        '<say-as interpret-as="cardinal">1234</say-as> '
        '<say-as interpret-as="ordinal">3</say-as> '
        '<say-as interpret-as="telephone">555-0100</say-as> '
        '<say-as interpret-as="date" format="dmy">03/04/2025</say-as> '
        '<say-as interpret-as="time">14:30</say-as> '
        '<sub alias="World Wide Web">WWW</sub> '
        '<phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>.</speak>'
    )
    found = segments(ssml)
    assert found[0] == {"text": "Hello"}
    assert found[1] == {"pause": 0.5}
    assert found[2] == {"text": "slowly", "rate": 0.75, "volume": pytest.approx(1.9953, abs=1e-3)}
    assert found[3]["text"] == (
        "eigh B C one thousand two hundred and thirty four third five five five, zero one zero "
        "zero the third of April twenty twenty five fourteen thirty World Wide Web "
        "[[ təˈmɑːtoʊ ]]."
    )


def test_prosody_nests_and_is_clamped():
    found = segments(
        '<speak><prosody rate="200%"><prosody rate="x-fast" volume="x-soft">a</prosody>'
        "</prosody></speak>"
    )
    assert found == [{"text": "a", "rate": 3.2, "volume": 0.3}]
    assert segments('<speak><prosody rate="900%">a</prosody></speak>')[0]["rate"] == 4.0


def test_sentences_and_paragraphs_end_sentences():
    assert FRONT.process("<speak><s>One</s><s>Two</s></speak>").text == "One. Two."


def test_ssml_text_gets_the_rules_but_not_markdown():
    assert FRONT.process("<speak>It costs $5 *now*</speak>").text == "It costs five dollars now"


@pytest.mark.parametrize(
    ("ssml", "line", "column", "fragment"),
    [
        ("<speak>Hello <b>x</b></speak>", 1, 14, "unsupported element <b>"),
        ("<speak>Hello</spek>", 1, 15, "mismatched tag"),
        ('<speak><break time="5 minutes"/></speak>', 1, 8, "break time must be"),
        ('<speak><break time="20s"/></speak>', 1, 8, "at most 10s"),
        ("<speak>\n  <prosody rate='zoom'>x</prosody></speak>", 2, 3, "prosody rate"),
        ("<speak><say-as interpret-as='poem'>x</say-as></speak>", 1, 8, "interpret-as"),
        ("<speak><sub>x</sub></speak>", 1, 8, "alias"),
        ("<speak><phoneme ph='ʒ'>x</phoneme></speak>", 1, 8, "no phoneme 'ʒ'"),
        ("<speak><phoneme alphabet='x-sampa' ph='a'>x</phoneme></speak>", 1, 8, "x-sampa"),
        ("<speak><say-as interpret-as='cardinal'><b/></say-as></speak>", 1, 40, "only text"),
        ("<speak><break time='1s'>x</break></speak>", 1, 25, "must be empty"),
        ('<speak><prosody pitch="high" speed="2">x</prosody></speak>', 1, 8, "'speed'"),
        ("<speak>Tom & Jerry</speak>", 1, 13, "not well-formed"),
        (
            '<!DOCTYPE speak [<!ENTITY a "aaaa">]><speak>&a;</speak>',
            1,
            17,
            "DOCTYPE",
        ),
    ],
)
def test_malformed_ssml_gives_the_position(ssml, line, column, fragment):
    with pytest.raises(MarkupError) as caught:
        FRONT.process(ssml)
    error = caught.value
    assert isinstance(error, UsageError) and error.http_status == 400
    assert fragment in error.message
    assert (error.line, error.column) == (line, column), error.message
    assert error.to_dict()["position"] == {"line": line, "column": column, "offset": error.offset}


def test_ssml_can_be_switched_off():
    """Off, a ``<speak>`` document is markup like any other: its tags are dropped, not read."""
    assert FRONT.process('<speak>Hi <break time="1s"/></speak>', TextOptions(ssml=False)).text == (
        "Hi"
    )


def test_say_commands():
    found = segments(
        "Hello [[slnc 500]] there [[rate 350]] fast [[volm 0.5]] quiet [[rset 0]] "
        "normal [[emph +]]again"
    )
    assert found == [
        {"text": "Hello"},
        {"pause": 0.5},
        {"text": "there"},
        {"text": "fast", "rate": 2.0},
        {"text": "quiet", "rate": 2.0, "volume": 0.5},
        {"text": "normal again"},
    ]


def test_say_relative_rate_and_volume():
    found = segments("[[rate 175]][[rate +175]]a [[volm 0.5]][[volm -0.25]]b")
    assert found == [{"text": "a", "rate": 2.0}, {"text": "b", "rate": 2.0, "volume": 0.25}]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [("Hi [[slnc x]]", 1, 4), ("Hi\n there [[rate fast]]", 2, 8), ("[[slnc 99999]]", 1, 1)],
)
def test_bad_say_commands_give_the_position(text, line, column):
    with pytest.raises(MarkupError) as caught:
        FRONT.process(text)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_say_commands_can_be_switched_off():
    """Off, the brackets are plain text (and never reach piper as phonemes)."""
    text = FRONT.process("a [[slnc 500]] b", TextOptions(say_commands=False)).text
    assert "[[" not in text and "slnc" in text
