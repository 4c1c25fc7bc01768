"""Markup out, words in: markdown (markdown-it-py) and HTML tags become plain blocks of text.

A block is what a reader says as one sentence or more: a paragraph, a heading, a list item, a
table row (its cells in order), a block quote's paragraphs. Emphasis, heading and list markers
are dropped, links are read by their text, images by their alt text, code spans are read, and
fenced code is skipped with a short note, read, or dropped (``code_blocks``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MARKDOWN_HINT = re.compile(
    r"[*_`#>|\[<&~]|^\s{0,3}(?:\d{1,9}[.)]|[-+*])\s|^\s{0,3}(?:-{3,}|={3,})\s*$", re.MULTILINE
)
"""Text without any of these has no markdown to parse (the common case is fast)."""

_TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)(?:\s[^<>]*)?/?>|<!--.*?-->", re.DOTALL)
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "blockquote",
        "pre",
        "section",
        "article",
        "hr",
    ]
)
_BLANK_LINE = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Block:
    """One block of plain text, and the markup it came from."""

    text: str
    source: str
    note: bool = False
    """The front end's own words (a code block's note), not the reply's."""


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.disable("code")  # indented code: LLM replies indent prose, never code, that way
    return md


_MD = _parser()


def blocks(text: str, *, markdown: bool, html_tags: bool, code_blocks: str, note: str | None):
    """``text`` as :class:`Block` s. ``markdown``: parse markdown (else only paragraphs split
    at blank lines); ``html_tags``: drop tags; ``code_blocks``: ``note`` (``note`` said
    instead; nothing when ``None``), ``read`` or ``drop``."""
    if not markdown or not _MARKDOWN_HINT.search(text):
        if html_tags and "<" in text:
            text = strip_tags(text)
        return [Block(p, p) for p in _BLANK_LINE.split(text) if p.strip()]
    return _markdown_blocks(text, html_tags, code_blocks, note)


def strip_tags(text: str) -> str:
    """HTML without its tags (block tags end a paragraph) and with entities decoded."""

    def replace(match: re.Match[str]) -> str:
        name = (match.group(2) or "").lower()
        return "\n\n" if name in _BLOCK_TAGS else ""

    return html.unescape(_TAG.sub(replace, text))


def _markdown_blocks(text: str, html_tags: bool, code_blocks: str, note: str | None):
    out: list[Block] = []
    lines = text.splitlines()
    row: list[str] | None = None
    for token in _MD.parse(text):
        kind = token.type
        if kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            cells = ", ".join(c for c in row if c)
            if cells:
                out.append(Block(cells, _source(token, lines) or cells))
            row = None
        elif kind == "inline":
            spoken = _inline(token.children or [], html_tags)
            if row is not None:
                row.append(spoken.strip())
            elif spoken.strip():
                out.append(Block(spoken, token.content))
        elif kind in ("fence", "code_block"):
            if code_blocks == "read":
                out.extend(Block(line, line) for line in token.content.splitlines() if line.strip())
            elif code_blocks == "note" and note:
                out.append(Block(note, token.content, note=True))
        elif kind == "html_block":
            plain = strip_tags(token.content) if html_tags else token.content
            out.extend(Block(p, p) for p in _BLANK_LINE.split(plain) if p.strip())
    return out


def _inline(children: list[Token], html_tags: bool) -> str:
    parts: list[str] = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind == "image":
            parts.append(child.content)
        elif kind == "html_inline":
            if not html_tags:
                parts.append(child.content)
            elif re.match(r"<br\b", child.content, re.IGNORECASE):
                parts.append(" ")
    return "".join(parts)


def _source(token: Token, lines: list[str]) -> str:
    if token.map is None:
        return ""
    start, end = token.map
    return "\n".join(lines[start:end])
