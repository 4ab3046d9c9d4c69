"""The keyword index's tokenizer: lowercased unicode words, names, numbers and dates kept.

``tokenize("Met Anna on 2024-03-15 at 9:30, paid $1,200")`` gives
``["met", "anna", "2024", "03", "15", "9", "30", "paid", "1", "200"]``: text is
case-folded and split into runs of unicode letters and digits (``\\w`` without the
underscore), so names, numbers and the parts of a date stay searchable words. A short
list of English function words (``STOPWORDS``) is dropped: they carry almost no BM25
weight and their posting lists are the longest, so indexing them costs time for nothing.
There is no stemming (it was not evaluated on the dev split; see docs/search.md).
"""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "tokenize"]

_WORD = re.compile(r"[^\W_]+")

STOPWORDS = frozenset(
    " ".join(
        (
            "a an and are as at be been but by did do does for from had has have he her hers him his",
            "i if in into is it its me my of on or our ours she so than that the their theirs them",
            "then there these they this those to us was we were what when where which who whom why",
            "will with would you your yours",
        )
    ).split()
)


def tokenize(text: str) -> list[str]:
    """The index terms of ``text`` in order (repeats kept; stopwords dropped)."""
    return [word for word in _WORD.findall(text.casefold()) if word not in STOPWORDS]
