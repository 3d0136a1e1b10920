"""Cutting a reply that streams in token by token into speakable clauses, each handed to TTS as
soon as it is complete: the first audio starts after the first clause, not the whole reply.

A cut is decided only from text already received, and only once the characters after the
punctuation that decide it have arrived (a "." followed by a digit is "3.5", by a dot an
ellipsis in progress), so any chunking of the same text yields the same clauses."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ClauseSplitter", "split_clauses"]

_SENTENCE_END = ".!?…"
_CLAUSE_PUNCT = ",;:"
_DASHES = "—–-"
_CLOSERS = "\"'”’»)]"
# A dot after these does not end a sentence (lower case, without the final dot).
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "inc", "ltd",
    "co", "approx", "no", "tel", "ext", "a.m", "p.m",
    "т.е", "т.д", "т.п", "т.к", "т.н", "др", "пр", "г", "гг", "ул", "д", "кв", "стр", "им",
    "тел", "руб", "коп", "см", "проф", "доб", "пер", "просп", "корп", "обл",
})
# ...unless a capital letter follows: these often end a sentence ("apples, pears etc. Then").
_FINAL_ABBREVIATIONS = frozenset({"etc", "т.д", "т.п", "др", "a.m", "p.m"})
# Symbols a voice reads as words; every other pictograph or emoji is dropped.
_SPOKEN_SYMBOLS = frozenset("№°©®™§%$€₽£¥&@+=<>/")

_EMOJI_MODIFIERS = frozenset(chr(c) for c in range(0xFE00, 0xFE10))
_BULLET = re.compile(r"^(?:[-*+•–—]|#{1,6})(?=\s)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)\s]*\)")
_MARKUP = re.compile(r"[*#`~]+")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:…])")


def _clean(piece: str, line_start: bool) -> str:
    """What TTS should say of a raw piece: markdown-ish markup, bullets and emoji removed,
    whitespace collapsed; "" when no letter or digit is left."""
    text = unicodedata.normalize("NFC", piece).strip()
    if line_start:
        text = _BULLET.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MARKUP.sub(" ", text)
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in _SPOKEN_SYMBOLS:
            out.append(ch)
        elif cat in ("So", "Sk", "Cc", "Zl", "Zp"):  # emoji, pictographs, skin tones, controls
            out.append(" ")
        elif cat in ("Cf", "Cs", "Co", "Cn", "Me") or ch in _EMOJI_MODIFIERS:
            out.append("")  # zero-width joiners, variation selectors, keycaps
        else:
            out.append(ch)
    text = _SPACES.sub(" ", "".join(out)).strip()
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return text if any(ch.isalnum() for ch in text) else ""


class ClauseSplitter:
    """Cuts a reply streaming in token by token into speakable pieces as soon as each is
    complete.

    Cuts at sentence ends (. ! ? … and runs of them, with closing quotes or brackets), at line
    breaks, and, once the clause has at least `min_chars` characters, at , ; : and a spaced
    dash. Never inside numbers ("3.5", "1,000", "10:30"), after common abbreviations ("Dr.",
    "e.g.", "т.е.", "ул.") or initials, or inside an ellipsis still arriving. A clause that
    reaches `max_chars` without punctuation is cut at its last space. Pieces come out cleaned
    of markdown markup, bullets and emoji; pieces with nothing to say are dropped."""

    def __init__(self, *, min_chars: int = 12, max_chars: int = 160) -> None:
        if min_chars < 0:
            raise ValueError(f"min_chars must be >= 0, got {min_chars}")
        if max_chars < 2 or max_chars <= min_chars:
            raise ValueError(f"max_chars must be > min_chars and >= 2, got {max_chars}")
        self.min_chars = min_chars
        self.max_chars = max_chars
        self._buffer = ""
        self._line_start = True  # the buffered clause begins a line: a bullet may lead it

    def feed(self, text: str) -> list[str]:
        """Clauses completed by this text (often none)."""
        self._buffer += text
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """The rest at the end of the stream; the splitter is then ready for a new reply."""
        clauses = self._drain(final=True)
        self._buffer = ""
        self._line_start = True
        return clauses

    # -- cutting -------------------------------------------------------------------------

    def _drain(self, *, final: bool) -> list[str]:
        clauses = []
        while True:
            stripped = self._buffer.lstrip()
            if "\n" in self._buffer[:len(self._buffer) - len(stripped)]:
                self._line_start = True
            self._buffer = stripped
            if not self._buffer:
                return clauses
            cut = self._find_cut(final)
            if cut is None:
                return clauses
            piece = _clean(self._buffer[:cut], self._line_start)
            self._buffer = self._buffer[cut:]
            self._line_start = False
            if piece:
                clauses.append(piece)

    def _find_cut(self, final: bool) -> int | None:
        """Where the first clause of the buffer ends, or None while that depends on text not
        yet received. The buffer starts with a non-space character."""
        buf = self._buffer
        size = len(buf)
        i = 0
        while i < size:
            if i >= self.max_chars:
                return self._hard_cut()
            ch = buf[i]
            if ch == "\n":
                return i
            if ch in _SENTENCE_END:
                end = i
                while end < size and buf[end] in _SENTENCE_END:
                    end += 1
                while end < size and buf[end] in _CLOSERS:
                    end += 1
                if end == size:
                    return size if final else None
                if buf[end].isspace():
                    decision = self._sentence_ends(i, end, final)
                    if decision is None:
                        return None
                    if decision:
                        return end
                i = end
                continue
            if ((ch in _CLAUSE_PUNCT or (ch in _DASHES and self._spaced_dash(i)))
                    and len(_clean(buf[:i + 1], self._line_start)) >= self.min_chars):
                if i + 1 == size:
                    return size if final else None
                if buf[i + 1].isspace():
                    return i + 1
            i += 1
        return size if final else None

    def _sentence_ends(self, dot: int, end: int, final: bool) -> bool | None:
        """Whether the punctuation at buf[dot:end] (followed by a space) ends a sentence; None
        while that depends on the next word, not yet received."""
        buf = self._buffer
        if buf[dot:end].rstrip(_CLOSERS) != ".":
            return True  # "!", "?", "...", "?!": always an end
        word = buf[:dot].rsplit(None, 1)[-1] if buf[:dot].strip() else ""
        token = word.lstrip("(\"'«“").casefold()
        if token in _ABBREVIATIONS:
            if token not in _FINAL_ABBREVIATIONS:
                return False
            rest = buf[end:].lstrip()
            if not rest:
                return True if final else None
            return rest[0].isupper()
        if len(token) == 1 and token.isalpha() and word[-1:].isupper():
            return False  # an initial: "J. Smith", "А. С. Пушкин"
        # "1. Call us. 2. Come in.": a number alone before the dot is a list item, not a
        # sentence "2."
        return not (token.isdigit() and len(token) <= 3 and buf[:dot].strip() == word)

    def _spaced_dash(self, i: int) -> bool:
        """A dash standing between words ("Москва — столица"), not a hyphen or a range
        ("9 - 18")."""
        buf = self._buffer
        if i == 0 or not buf[i - 1].isspace():
            return False
        before = buf[:i].rstrip()
        return bool(before) and (buf[i] != "-" or not before[-1].isdigit())

    def _hard_cut(self) -> int:
        window = self._buffer[:self.max_chars + 1]
        space = max(window.rfind(" "), window.rfind("\t"))
        return space if space > 0 else self.max_chars


def split_clauses(text: str) -> list[str]:
    """A whole text cut as ClauseSplitter cuts it streaming (same pieces, same cleaning)."""
    splitter = ClauseSplitter()
    return [*splitter.feed(text), *splitter.flush()]
