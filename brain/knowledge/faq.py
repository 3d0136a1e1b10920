"""The persona's FAQ and its retrieval: finds the entry that answers a caller's question, with a
confidence the conversation can act on (answer from the FAQ, or say it doesn't know).

Answers callers rely on come from here verbatim, never from the language model (FINDINGS: the
embedded model got 4 of 5 answers wrong even with the facts in its prompt). Ranking is BM25
(rank_bm25) over Snowball stems; the confidence is a separate, query-independent measure of how
much of the question the entry accounts for (see `FaqIndex._confidence`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from brain.nlu.text import content_terms

__all__ = ["FaqEntry", "FaqHit", "FaqIndex"]

# BM25 sees the question, alternatives and keywords this many times, the answer once: callers
# ask in the words of questions, and answers mention many things they do not answer.
_QUESTION_REPEAT = 3
# In the confidence, a query word found only in the answer text counts this much.
_ANSWER_MATCH = 0.5
# A word no entry uses weighs this share of a word that one entry uses (see `_weight`).
_UNKNOWN_WORD_WEIGHT = 0.6


@dataclass(frozen=True)
class FaqEntry:
    """One question the secretary can answer, and the exact words of the answer."""

    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    language: str = "en"


@dataclass(frozen=True)
class FaqHit:
    """An entry found for a query: raw BM25 `score` (for ranking within one query) and a
    `confidence` in 0..1 comparable across queries."""

    entry: FaqEntry
    score: float
    confidence: float


@dataclass(frozen=True)
class _Indexed:
    entry: FaqEntry
    strong: frozenset[str]  # stems of question, alternatives, keywords
    weak: frozenset[str]  # stems of the answer only
    phrases: tuple[frozenset[str], ...]  # the question, each alternative and each keyword


class FaqIndex:
    """BM25 index over FAQ entries in any mix of languages."""

    def __init__(self, entries: Sequence[FaqEntry]) -> None:
        self._items: list[_Indexed] = []
        corpus: list[list[str]] = []
        for entry in entries:
            asked = [entry.question, *entry.alternatives, *entry.keywords]
            asked_terms = [content_terms(text) for text in asked]
            answer_terms = content_terms(entry.answer)
            strong = frozenset(t for terms in asked_terms for t in terms)
            self._items.append(_Indexed(
                entry=entry,
                strong=strong,
                weak=frozenset(answer_terms) - strong,
                phrases=tuple(frozenset(terms) for terms in asked_terms if terms),
            ))
            corpus.append([t for terms in asked_terms for t in terms] * _QUESTION_REPEAT
                          + answer_terms)
        # rank_bm25 divides by the corpus size; an empty FAQ simply finds nothing.
        self._bm25 = BM25Okapi(corpus) if corpus and any(corpus) else None
        doc_freq: dict[str, int] = {}
        for item in self._items:
            for term in item.strong | item.weak:
                doc_freq[term] = doc_freq.get(term, 0) + 1
        self._doc_freq = doc_freq

    @property
    def entries(self) -> tuple[FaqEntry, ...]:
        return tuple(item.entry for item in self._items)

    def _weight(self, term: str) -> float:
        """How informative a word is: BM25's idf over the entries. By idf a word no entry uses
        would weigh the most; here it weighs less than a word one entry uses, because
        transcripts are full of words the FAQ never mentions ("guys", "next week", "клиники")
        and a paraphrase should not sink because of them. Off-topic talk is still caught: it
        shares no informative word with the entry at all."""
        n_docs = len(self._items)
        freq = self._doc_freq.get(term, 0)
        scale = 1.0 if freq else _UNKNOWN_WORD_WEIGHT
        freq = max(freq, 1)
        return scale * math.log(1.0 + (n_docs - freq + 0.5) / (freq + 0.5))

    def _confidence(self, terms: Sequence[str], item: _Indexed) -> float:
        """How sure we are that `item` answers a query with these content stems.

        confidence = query_coverage * phrase_coverage, where
        - query_coverage: the idf-weighted share of the query's words the entry contains (a word
          found only in the answer text counts half). Off-topic talk ("what's the weather")
          shares few or no informative words with any entry, so it stays low however the BM25
          score of its best entry compares with other queries.
        - phrase_coverage: the best idf-weighted share of one question, alternative or keyword
          of the entry that the query contains. A paraphrase usually repeats most of some way of
          asking ("what time ... open"); a stray shared word ("time" in "what time is it")
          covers only part of any.
        Both are in 0..1 and neither depends on the size of the FAQ or the length of the query,
        which is what makes the product comparable across queries."""
        unique = set(terms)
        total = sum(self._weight(t) for t in unique)
        if total <= 0:
            return 0.0
        matched = 0.0
        for term in unique:
            if term in item.strong:
                matched += self._weight(term)
            elif term in item.weak:
                matched += _ANSWER_MATCH * self._weight(term)
        query_coverage = matched / total
        phrase_coverage = 0.0
        for phrase in item.phrases:
            size = sum(self._weight(t) for t in phrase)
            if size > 0:
                shared = sum(self._weight(t) for t in phrase & unique)
                phrase_coverage = max(phrase_coverage, shared / size)
        return query_coverage * phrase_coverage

    def search(self, query: str, *, language: str | None = None, limit: int = 3) -> list[FaqHit]:
        """Entries that share words with the query, most likely answer first (by confidence,
        then BM25); `language` keeps only entries in that language. Empty when nothing
        matches at all."""
        terms = content_terms(query)
        if not terms or self._bm25 is None or limit <= 0:
            return []
        scores = self._bm25.get_scores(terms)
        hits = []
        for item, score in zip(self._items, scores, strict=True):
            if language is not None and item.entry.language != language:
                continue
            if not any(t in item.strong or t in item.weak for t in terms):
                continue
            hits.append(FaqHit(item.entry, float(score), self._confidence(terms, item)))
        hits.sort(key=lambda hit: (hit.confidence, hit.score), reverse=True)
        return hits[:limit]

    def best(self, query: str, *, language: str | None = None,
             min_confidence: float = 0.5) -> FaqHit | None:
        """The entry that answers the query, or None when no entry is at least
        `min_confidence` sure."""
        hits = self.search(query, language=language, limit=1)
        if hits and hits[0].confidence >= min_confidence:
            return hits[0]
        return None
