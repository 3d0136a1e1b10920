"""What the secretary knows for certain: the persona's FAQ and its retrieval.

    faq.py   FaqEntry, FaqIndex (BM25 over stems) and calibrated FaqHit confidences"""

from brain.knowledge.faq import FaqEntry, FaqHit, FaqIndex

__all__ = ["FaqEntry", "FaqHit", "FaqIndex"]
