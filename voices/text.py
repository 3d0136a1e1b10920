"""Text preparation shared by every engine: turn what a language model wrote into something a
synthesizer can say, cut it into pieces that can be spoken one after another, and tell Russian
from English for routing.

- `clean_text`: strips HTML and Markdown markup, emoji, control and format characters,
  normalises whitespace; line breaks become sentence ends so list items are not run together.
- `prepare`: cleans, rejects empty text (`EmptyText`), caps huge text at a sentence boundary,
  detects the language and splits into pieces.
- `split_for_speech`: sentence pieces, the first one cut at a comma so the first audio comes
  sooner (Piper yields one chunk per sentence, so we cut before passing text to it).
- `detect_language`: "ru" or "en" by script (share of Cyrillic among letters)."""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import dataclass

from voices.base import EmptyText, UnsupportedLanguage

log = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 1000  # about a minute of speech: more than any phone reply should be
DEFAULT_MAX_PIECE_CHARS = 220  # below XTTS's per-sentence limit for Russian (182 tokens-ish)
DEFAULT_FIRST_PIECE_MIN_CHARS = 2  # "Да," is worth its own piece: ~0.3 s of audio in ~50 ms

_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_HTML_DROP_BLOCK = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_HTML_BREAK = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", re.I)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")
_MD_FENCE = re.compile(r"```[^\n]*\n?(.*?)```", re.S)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)
_MD_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?", re.M)
_MD_BULLET = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]+", re.M)
_MD_RULE = re.compile(r"^[ \t]*([-*_])([ \t]*\1){2,}[ \t]*$", re.M)
_MD_TABLE_SEP = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}.*$", re.M)
_MD_TABLE_EDGES = re.compile(r"^[ \t]*\|(.*?)\|?[ \t]*$", re.M)
_MD_EMPHASIS = re.compile(r"(?<![\w*~])(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1(?![\w*~])")
_MD_CODE = re.compile(r"`+([^`]*)`+")
_URL_SCHEME = re.compile(r"\b(?:https?|ftp)://(?:www\.)?", re.I)
_SPACES = re.compile(r"[ \t\f\v]+")
_SENTENCE_END_CHARS = ".!?…"
_LINE_JOIN = re.compile(r"\s*\n\s*")

# Emoji and pictographs; a range table because unicodedata has no "is emoji". Letterlike symbols
# (№, ™) and the degree sign stay: they are read as words.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # mahjong .. symbols and pictographs extended-A (incl. flags)
    "\U00002600-\U000027bf"  # miscellaneous symbols, dingbats
    "\U00002b00-\U00002bff"  # arrows, stars, squares
    "\U00002300-\U000023ff"  # technical: ⌚ ⏰ ...
    "\U000025a0-\U000025ff"  # geometric shapes
    "\U0000fe00-\U0000fe0f"  # variation selectors
    "\U0000200d\U000020e3"  # zero-width joiner, combining keycap
    "\U000e0020-\U000e007f"  # tag characters (subdivision flags)
    "]+"
)

# Abbreviations whose dot does not end a sentence (lower case, without the dot).
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "no",
    "т.е", "т.д", "т.п", "т.к", "т.н", "др", "пр", "г", "гг", "ул", "д", "кв", "стр", "им",
    "тел", "руб", "коп", "см", "проф", "доб",
})


@dataclass(frozen=True, slots=True)
class PreparedText:
    """Text ready to speak: cleaned, capped, its language, and its pieces in speaking order."""

    text: str
    language: str
    pieces: tuple[str, ...]
    truncated: bool = False


def _strip_markup(text: str) -> str:
    text = _HTML_COMMENT.sub(" ", text)
    text = _HTML_DROP_BLOCK.sub(" ", text)
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_TAG.sub(" ", text)
    text = html.unescape(text)
    text = _MD_FENCE.sub(r"\1", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_REF_LINK.sub(r"\1", text)
    text = _MD_RULE.sub("\n", text)
    text = _MD_TABLE_SEP.sub("", text)
    text = _MD_HEADING.sub("", text)
    text = _MD_QUOTE.sub("", text)
    text = _MD_BULLET.sub("", text)
    text = _MD_CODE.sub(r"\1", text)
    for _ in range(2):  # nested emphasis: ***bold italic***
        text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_TABLE_EDGES.sub(r"\1", text)
    text = text.replace("|", ", ")  # table cells read as a list, each row a sentence
    return _URL_SCHEME.sub("", text)


def _strip_characters(text: str) -> str:
    text = _EMOJI.sub(" ", text)
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
            continue
        cat = unicodedata.category(ch)
        # Cc control, Cf format (zero-width, bidi marks), Cs/Co/Cn: nothing a voice can say
        if cat[0] == "C":
            out.append(" " if cat == "Cc" else "")
        elif cat == "Zl" or cat == "Zp":
            out.append("\n")
        elif cat[0] == "Z":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _join_lines(text: str) -> str:
    """Line breaks separate list items and paragraphs: end each line as a sentence unless it
    already ends with punctuation, then join the lines with spaces."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    joined = []
    for i, line in enumerate(lines):
        if i < len(lines) - 1 and line[-1] not in _SENTENCE_END_CHARS + ",;:":
            line += "."
        joined.append(line)
    return " ".join(joined)


def clean_text(text: str) -> str:
    """Markup, emoji and control characters removed, whitespace normalised (may return "")."""
    text = unicodedata.normalize("NFC", text)
    text = _strip_markup(text)
    text = _strip_characters(text)
    text = _join_lines(text)
    text = re.sub(r"\s+([,.!?;:…])", r"\1", text)  # "word ." left by removed markup
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)  # ", ," left by removed emoji/cells
    return text.strip(" ,;:")


def _speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def detect_language(text: str, default: str = "ru") -> str:
    """"ru" when Cyrillic letters are at least half of the Cyrillic + Latin letters, "en" when
    Latin letters dominate, `default` when there are no letters (digits only).

    Raises `UnsupportedLanguage` when most letters belong to another script (CJK, Arabic...)."""
    cyrillic = latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        if name.startswith("CYRILLIC"):
            cyrillic += 1
        elif name.startswith("LATIN"):
            latin += 1
        else:
            other += 1
    if cyrillic + latin + other == 0:
        return default
    if other > cyrillic + latin:
        raise UnsupportedLanguage(
            f"text is mostly in a script other than Cyrillic or Latin ({other} of "
            f"{cyrillic + latin + other} letters); only Russian and English are spoken")
    return "ru" if cyrillic >= latin else "en"


def _sentence_spans(text: str) -> list[str]:
    """Sentences with their end punctuation; a dot after a known abbreviation, an initial or
    inside a number does not end a sentence."""
    sentences = []
    start = 0
    for m in re.finditer(r"[.!?…]+(?=\s|$)", text):
        end = m.end()
        if m.group() == ".":
            word = re.search(r"(\S+)$", text[start:m.start()])
            token = word.group(1).lower().lstrip("(\"'«") if word else ""
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()
                                           and token.upper() == word.group(1)[-1:]):
                continue
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _cut_long(sentence: str, limit: int) -> list[str]:
    """Cut a sentence longer than `limit` at clause punctuation, else at spaces."""
    if len(sentence) <= limit:
        return [sentence]
    pieces: list[str] = []
    rest = sentence
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind(", "), window.rfind("; "), window.rfind(": "),
                  window.rfind(" — "), window.rfind(" - "))
        if cut >= limit // 3:
            cut += 1  # keep the punctuation with the left piece
        else:
            cut = window.rfind(" ")
            if cut <= 0:
                cut = limit  # one enormous "word": cut it anyway
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return [p for p in pieces if _speakable(p)] or [sentence[:limit]]


def split_for_speech(text: str, *, max_piece_chars: int = DEFAULT_MAX_PIECE_CHARS,
                     first_piece_min_chars: int = DEFAULT_FIRST_PIECE_MIN_CHARS,
                     cut_first_clause: bool = True) -> list[str]:
    """Pieces to synthesize one after another: sentences, the first cut at its first comma
    (or ; : —) so the first audio is ready sooner, and any sentence longer than
    `max_piece_chars` cut at clause boundaries. Pieces without letters or digits are merged
    into their neighbour (a lone "..." is no piece)."""
    pieces: list[str] = []
    for sentence in _sentence_spans(text):
        pieces.extend(_cut_long(sentence, max_piece_chars))
    if cut_first_clause and pieces:
        first = pieces[0]
        m = re.search(r"[,;:](?=\s)|\s[—–-](?=\s)", first)
        if m and m.start() >= first_piece_min_chars:
            left, right = first[:m.end()].strip(), first[m.end():].strip()
            if _speakable(left) and _speakable(right):
                pieces[0:1] = [left, right]
    merged: list[str] = []
    for piece in pieces:
        if merged and not (_speakable(piece) and _speakable(merged[-1])):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return [p for p in merged if _speakable(p)]


def cap_text(text: str, max_chars: int) -> tuple[str, bool]:
    """At most `max_chars` characters, cut at the last sentence end (else clause, else word)
    inside the limit. Returns (text, truncated)."""
    if len(text) <= max_chars:
        return text, False
    window = text[:max_chars]
    ends = [m.end() for m in re.finditer(r"[.!?…](?=\s|$)", window)]
    cut = ends[-1] if ends and ends[-1] >= max_chars // 3 else -1
    if cut < 0:
        cut = max(window.rfind(", "), window.rfind("; "))
        cut = cut + 1 if cut >= max_chars // 3 else window.rfind(" ")
    if cut <= 0:
        cut = max_chars
    return text[:cut].rstrip(" ,;:"), True


def prepare(text: str, *, max_chars: int = DEFAULT_MAX_CHARS, default_language: str = "ru",
            max_piece_chars: int = DEFAULT_MAX_PIECE_CHARS,
            first_piece_min_chars: int = DEFAULT_FIRST_PIECE_MIN_CHARS) -> PreparedText:
    """Clean, validate, cap, detect the language and split: everything an engine needs.

    Raises `EmptyText` when nothing speakable remains, `UnsupportedLanguage` for other scripts."""
    if not isinstance(text, str):
        raise EmptyText(f"text to speak must be a string, got {type(text).__name__}")
    cleaned = clean_text(text)
    if not _speakable(cleaned):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise EmptyText(f"nothing to say: {shown!r} has no words once markup, emoji and "
                        "control characters are removed")
    capped, truncated = cap_text(cleaned, max_chars)
    if truncated:
        log.warning("text of %d characters capped to %d for speech", len(cleaned), len(capped))
    language = detect_language(capped, default_language)
    pieces = split_for_speech(capped, max_piece_chars=max_piece_chars,
                              first_piece_min_chars=first_piece_min_chars)
    return PreparedText(capped, language, tuple(pieces), truncated)
