"""``macbot normalize``: print the words the daemon would say for a text (the text front end's
result, nothing synthesized), to see why a reply sounds the way it does."""

from __future__ import annotations

import argparse
import json

from ..config import AppConfig
from ..core.budget import auto_voice
from ..core.voices import find_voice
from ..errors import ExitCode, UsageError
from .common import command, read_text


def register(sub) -> None:
    parser = command(
        sub,
        "normalize",
        help="print the words that will be spoken for a text",
        description="Run the text front end on TEXT and print the spoken form: markdown, emoji,\n"
        "numbers, dates, URLs … as the voice will say them (pauses as [[slnc MS]]).\n"
        "The same as POST /normalize; runs here, without the daemon.\n\n"
        "examples:\n"
        "  macbot normalize '**Sure!** The ETA is 5:30 pm.'\n"
        "  macbot normalize 'Call 555-123-4567' -O phone_numbers=false\n"
        "  cat reply.md | macbot normalize - --json",
    )
    parser.add_argument("text", help="the text, or - to read it from standard input")
    parser.add_argument(
        "--voice", help="voice whose language picks the rules (default: models.tts.voice)"
    )
    parser.add_argument(
        "-O",
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one option of models.tts.text for this run, e.g. emoji=name, urls=false "
        "(repeatable; docs/TEXT.md lists them; default: the config's)",
    )
    parser.add_argument(
        "--off",
        action="store_true",
        help="switch the front end off (enabled=false; default: models.tts.text.enabled)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the segments, notes and options as JSON (default: the spoken text)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    from ..core.text import Lexicon, TextOptions, frontend_for

    text = read_text(args.text)
    changes: dict[str, object] = {"enabled": False} if args.off else {}
    for item in args.option:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--option wants NAME=VALUE (got {item!r})")
        lowered = value.strip().lower()
        parsed: object = {"true": True, "false": False}.get(lowered, value.strip())
        changes[name.strip()] = parsed
    options = TextOptions.from_config(config.tts.text).with_request(changes, "option")
    voice = auto_voice(config.tts) if args.voice is None else find_voice(args.voice, config.tts)
    lexicon = Lexicon.load(config.tts.text.lexicon) if config.tts.text.lexicon else None
    utterance = frontend_for(voice, lexicon).process(text, options)
    if args.json:
        print(
            json.dumps(
                {**utterance.to_dict(), "options": options.to_dict()}, indent=2, ensure_ascii=False
            )
        )
    else:
        print(utterance.text)
    return ExitCode.OK
