"""A keyword index over memory texts: Okapi BM25 with numpy posting lists.

Scoring is Okapi BM25::

    score(d, q) = sum over terms t of q:  idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

with ``tf`` the count of ``t`` in ``d``, ``|d|`` its length in terms, ``N`` the number of
indexed memories and ``avgdl`` their mean length. ``k1 = 1.2`` and ``b = 0.75`` by default
(the usual Okapi values). Terms come from :func:`memorylink.index._tokenize.tokenize`.

Two refinements, both chosen on the evaluation dev split (docs/search.md):

* **Neighbour context.** A memory indexed with a ``(run_id, turn)`` (a conversation turn,
  e.g. from ``add_messages``) also takes ``context_weight`` times the score of the turn
  before it in its run: ``score(d) + c * score(prev(d))``. A reply's meaning often lives in
  the question before it, while the turn's own score still dominates its rank.
* **Pseudo-relevance feedback** (RM3-like): the ``feedback_docs`` best memories of a first
  pass give ``feedback_terms`` expansion terms (weighted by tf / |d| times the memory's
  score, and by idf), added to the query with weight ``feedback_weight``.

Layout: documents live in *slots* (an update or re-add takes a fresh slot; a removed one
is marked dead). Postings and the per-document term lists are a compact CSR base (what a
snapshot or a compaction produced) plus append-only tails for what was added since. The
snapshot (:meth:`to_bytes`) is plaintext: the store encrypts it, like the vector index's.

Not thread-safe: like the vector index, writers must be exclusive (the store's lock).
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from memorylink.errors import StoreCorruptedError
from memorylink.index._tokenize import tokenize

__all__ = ["KeywordIndex", "KeywordScores"]

_MAGIC = b"MLKW0001"  # version 1: the arrays as they are (still read)
_MAGIC_COMPRESSED = b"MLKW0002"  # version 2: version 1's body, zlib-compressed
_HEADER = struct.Struct(">I")
_TF_MAX = 0xFFFF
_NO_SLOT = -1

Labels = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class KeywordScores:
    """One query's keyword scores over the allowed memories (those with a score > 0)."""

    labels: Labels
    scores: Floats
    ceiling: float = 0.0
    """The most any memory can score for the query's own terms: ``(k1 + 1) * sum of their idf``."""

    def top(self, k: int) -> tuple[Labels, Floats]:
        """The ``k`` best ``(labels, scores)``, best first (ties go to the larger label)."""
        if k <= 0 or len(self.labels) == 0:
            return self.labels[:0], self.scores[:0]
        if len(self.labels) > k:
            # Everything tied with the k-th score competes, so ties break by label, not by position.
            kth = -np.partition(-self.scores, k - 1)[k - 1]
            part = np.flatnonzero(self.scores >= kth)
        else:
            part = np.arange(len(self.labels))
        order = np.lexsort((-self.labels[part], -self.scores[part]))
        chosen = part[order][:k]
        return self.labels[chosen], self.scores[chosen]

    def of(self, labels: Labels) -> Floats:
        """The score of each label (0.0 for labels without one)."""
        if len(self.labels) == 0 or len(labels) == 0:
            return np.zeros(len(labels), dtype=np.float64)
        order = np.argsort(self.labels)
        sorted_labels = self.labels[order]
        positions = np.searchsorted(sorted_labels, labels)
        positions = np.minimum(positions, len(sorted_labels) - 1)
        found = sorted_labels[positions] == labels
        return np.where(found, self.scores[order][positions], 0.0)

    @property
    def best(self) -> float:
        """The highest score (0.0 when nothing matched)."""
        return float(self.scores.max()) if len(self.scores) else 0.0


class KeywordIndex:
    """BM25 over labelled texts; ``add`` upserts, ``remove`` ignores unknown labels.

    Args:
        k1: Term-frequency saturation (``k1 = 0`` ignores repeats).
        b: Length normalisation (0 = none, 1 = full).
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        if not k1 >= 0.0:
            raise ValueError("k1 must be >= 0")
        if not 0.0 <= b <= 1.0:
            raise ValueError("b must be in [0, 1]")
        self.k1 = float(k1)
        self.b = float(b)
        self._terms: dict[str, int] = {}
        self._term_list: list[str] = []
        self._df = np.zeros(256, dtype=np.int64)
        # Postings: CSR base (term -> slots, tfs) + per-term append-only tails.
        self._post_ptr = np.zeros(1, dtype=np.int64)
        self._post_slots = np.empty(0, dtype=np.int32)
        self._post_tf = np.empty(0, dtype=np.uint16)
        self._post_tail: dict[int, tuple[array[int], array[int]]] = {}
        # Documents, by slot. The forward lists (slot -> terms, tfs) serve removals and feedback.
        self._labels = np.zeros(256, dtype=np.int64)
        self._lengths = np.zeros(256, dtype=np.float64)
        self._alive = np.zeros(256, dtype=np.bool_)
        self._prev = np.full(256, _NO_SLOT, dtype=np.int64)
        self._next = np.full(256, _NO_SLOT, dtype=np.int64)
        self._slots_used = 0
        self._fwd_ptr = np.zeros(1, dtype=np.int64)
        self._fwd_terms = np.empty(0, dtype=np.int32)
        self._fwd_tf = np.empty(0, dtype=np.uint16)
        # Slots past the base: flat term / tf lists, and each slot's start offset in them.
        self._tail_start: array[int] = array("q")
        self._tail_terms: array[int] = array("i")
        self._tail_tfs: array[int] = array("H")
        self._slot: dict[int, int] = {}
        # Conversation turns: label -> (run_id, turn), and the reverse; built lazily from a
        # snapshot's arrays (most opens never add a turn, and building them costs time).
        self._turn_raw: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]] | None = None
        self._turn_of: dict[int, tuple[str, int]] | None = {}
        self._by_turn: dict[tuple[str, int], int] | None = {}
        self._total_length = 0.0
        self._mutations = 0
        self._mask_cache: tuple[Any, int, npt.NDArray[np.bool_]] | None = None
        self._sorted_cache: tuple[int, Labels, npt.NDArray[np.int64]] | None = None

    # -- size and membership --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, label: object) -> bool:
        return label in self._slot

    def labels(self) -> Labels:
        """Every indexed label (in no particular order)."""
        return np.fromiter(self._slot.keys(), dtype=np.int64, count=len(self._slot))

    @property
    def vocabulary_size(self) -> int:
        """Distinct terms in at least one indexed memory."""
        return int(np.count_nonzero(self._df[: len(self._term_list)]))

    # -- writes ---------------------------------------------------------------------------

    def add(self, label: int, text: str, *, run_id: str | None = None, turn: int | None = None) -> None:
        """Index ``text`` under ``label`` (replacing what the label had).

        ``run_id`` and ``turn`` place the memory in a conversation: the turn ``turn - 1`` of
        the same run is its context (see the module docstring).
        """
        self.add_many([(label, text, run_id, turn)])

    def add_many(self, items: Iterable[tuple[int, str, str | None, int | None]]) -> None:
        """``add`` for each ``(label, text, run_id, turn)`` in one vectorised pass (a repeated label: last wins)."""
        latest: dict[int, tuple[str, str | None, int | None]] = {}
        for label, text, run_id, turn in items:
            label = int(label)
            if label < 0:
                raise ValueError("labels must be >= 0")
            latest.pop(label, None)
            latest[label] = (text, run_id, turn)
        if not latest:
            return
        for label in latest:
            if label in self._slot:
                self._remove_one(label)
        terms = self._terms
        term_id = self._term_id
        flat: list[int] = []
        lengths: list[int] = []
        for text, _, _ in latest.values():
            words = tokenize(text)
            lengths.append(len(words))
            flat.extend([terms[w] if w in terms else term_id(w) for w in words])
        count = len(latest)
        first = self._reserve(count)
        slots = np.arange(first, first + count, dtype=np.int64)
        labels = np.fromiter(latest.keys(), dtype=np.int64, count=count)
        doc_lengths = np.array(lengths, dtype=np.int64)
        self._labels[slots] = labels
        self._lengths[slots] = doc_lengths
        self._alive[slots] = True
        self._slots_used = first + count
        self._slot.update(zip(labels.tolist(), slots.tolist(), strict=True))
        self._total_length += float(doc_lengths.sum())
        # (document, term) pairs with their counts, sorted by document then term.
        width = len(self._term_list) + 1
        keys = np.repeat(np.arange(count, dtype=np.int64), doc_lengths) * width + np.array(flat, dtype=np.int64)
        pairs, tfs = np.unique(keys, return_counts=True)
        docs, term_ids = pairs // width, pairs % width
        tfs = np.minimum(tfs, _TF_MAX).astype(np.uint16)
        self._df[: len(self._term_list)] += np.bincount(term_ids, minlength=len(self._term_list))
        # Forward lists of the new slots: appended to the flat tail, one start offset per slot.
        starts = len(self._tail_terms) + np.searchsorted(docs, np.arange(count))
        self._tail_start.frombytes(starts.astype(np.int64).tobytes())
        self._tail_terms.frombytes(term_ids.astype(np.int32).tobytes())
        self._tail_tfs.frombytes(tfs.tobytes())
        # Postings: each term's new (slot, tf) entries appended to its tail.
        if len(term_ids):
            order = np.argsort(term_ids, kind="stable")
            sorted_terms = term_ids[order]
            entry_slots = (docs[order] + first).astype(np.int32)
            entry_tfs = tfs[order]
            bounds = np.flatnonzero(np.diff(sorted_terms)) + 1
            heads = np.concatenate([[0], bounds])
            ends = np.concatenate([bounds, [len(sorted_terms)]])
            tail_of = self._post_tail
            for term, low, high in zip(sorted_terms[heads].tolist(), heads.tolist(), ends.tolist(), strict=True):
                tail = tail_of.get(term)
                if tail is None:
                    tail = tail_of[term] = (array("i"), array("H"))
                tail[0].frombytes(entry_slots[low:high].tobytes())
                tail[1].frombytes(entry_tfs[low:high].tobytes())
        for (label, (_, run_id, turn)), slot in zip(latest.items(), slots.tolist(), strict=True):
            if run_id is not None and turn is not None:
                self._link_turn(label, slot, run_id, int(turn))
        self._mutations += 1

    def remove(self, labels: Iterable[int]) -> None:
        """Drop these labels (labels not indexed are ignored)."""
        for label in labels:
            if int(label) in self._slot:
                self._remove_one(int(label))
        dead = self._slots_used - len(self._slot)
        if dead > 4_096 and dead > len(self._slot):
            self._adopt(self._compact())

    def _remove_one(self, label: int) -> None:
        slot = self._slot.pop(label)
        self._alive[slot] = False
        terms, _ = self._forward(slot)
        if len(terms):
            self._df[terms] -= 1
        self._total_length -= self._lengths[slot]
        before, after = int(self._prev[slot]), int(self._next[slot])
        if before != _NO_SLOT:
            self._next[before] = _NO_SLOT
        if after != _NO_SLOT:
            self._prev[after] = _NO_SLOT
        self._prev[slot] = self._next[slot] = _NO_SLOT
        turns = self._turn_of
        if turns is not None:
            key = turns.pop(label, None)
            if key is not None and self._by_turn is not None and self._by_turn.get(key) == label:
                del self._by_turn[key]
        self._mutations += 1

    def _reserve(self, count: int) -> int:
        """The first of ``count`` fresh slots (the per-slot arrays grow to hold them)."""
        first = self._slots_used
        if first + count > len(self._labels):
            grow = max(256, len(self._labels), first + count - len(self._labels))
            self._labels = np.concatenate([self._labels, np.zeros(grow, dtype=np.int64)])
            self._lengths = np.concatenate([self._lengths, np.zeros(grow, dtype=np.float64)])
            self._alive = np.concatenate([self._alive, np.zeros(grow, dtype=np.bool_)])
            self._prev = np.concatenate([self._prev, np.full(grow, _NO_SLOT, dtype=np.int64)])
            self._next = np.concatenate([self._next, np.full(grow, _NO_SLOT, dtype=np.int64)])
        return first

    def _term_id(self, word: str) -> int:
        term = self._terms.get(word)
        if term is None:
            term = self._terms[word] = len(self._term_list)
            self._term_list.append(word)
            if term >= len(self._df):
                self._df = np.concatenate([self._df, np.zeros(len(self._df), dtype=np.int64)])
        return term

    # -- conversation turns ---------------------------------------------------------------

    def _turn_maps(self) -> tuple[dict[int, tuple[str, int]], dict[tuple[str, int], int]]:
        if self._turn_of is None or self._by_turn is None:
            assert self._turn_raw is not None
            slots, turns, runs = self._turn_raw
            turn_of: dict[int, tuple[str, int]] = {}
            for slot, turn, run in zip(slots.tolist(), turns.tolist(), runs, strict=True):
                if self._alive[slot]:
                    turn_of[int(self._labels[slot])] = (run, turn)
            self._turn_of = turn_of
            self._by_turn = {key: label for label, key in turn_of.items()}
            self._turn_raw = None
        return self._turn_of, self._by_turn

    def _link_turn(self, label: int, slot: int, run_id: str, turn: int) -> None:
        turn_of, by_turn = self._turn_maps()
        key = (run_id, turn)
        holder = by_turn.get(key)
        if holder is not None and holder != label:
            # Two memories claim one turn of a run (a user's own metadata): the newer one links.
            holder_slot = self._slot.get(holder)
            if holder_slot is not None:
                self._unlink(holder_slot)
        turn_of[label] = key
        by_turn[key] = label
        before = by_turn.get((run_id, turn - 1))
        if before is not None and before in self._slot:
            self._prev[slot] = self._slot[before]
            self._next[self._slot[before]] = slot
        after = by_turn.get((run_id, turn + 1))
        if after is not None and after in self._slot:
            self._next[slot] = self._slot[after]
            self._prev[self._slot[after]] = slot

    def _unlink(self, slot: int) -> None:
        before, after = int(self._prev[slot]), int(self._next[slot])
        if before != _NO_SLOT and self._next[before] == slot:
            self._next[before] = _NO_SLOT
        if after != _NO_SLOT and self._prev[after] == slot:
            self._prev[after] = _NO_SLOT
        self._prev[slot] = self._next[slot] = _NO_SLOT

    def terms_of(self, label: int) -> list[str]:
        """The distinct indexed terms of a memory, sorted (empty if the label is not indexed)."""
        slot = self._slot.get(int(label))
        if slot is None:
            return []
        terms, _ = self._forward(slot)
        return sorted(self._term_list[term] for term in terms.tolist())

    def context_of(self, label: int) -> int | None:
        """The label of the memory before this one in its conversation, if indexed."""
        slot = self._slot.get(int(label))
        if slot is None or self._prev[slot] == _NO_SLOT:
            return None
        return int(self._labels[self._prev[slot]])

    # -- reads ----------------------------------------------------------------------------

    def _forward(self, slot: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        base = len(self._fwd_ptr) - 1
        if slot < base:
            low, high = int(self._fwd_ptr[slot]), int(self._fwd_ptr[slot + 1])
            return self._fwd_terms[low:high], self._fwd_tf[low:high]
        position = slot - base
        if position >= len(self._tail_start):
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.uint16)
        low = self._tail_start[position]
        high = self._tail_start[position + 1] if position + 1 < len(self._tail_start) else len(self._tail_terms)
        return (
            np.array(self._tail_terms[low:high], dtype=np.int32),
            np.array(self._tail_tfs[low:high], dtype=np.uint16),
        )

    def _postings(self, term: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        slots: list[npt.NDArray[np.int32]] = []
        tfs: list[npt.NDArray[np.uint16]] = []
        if term + 1 < len(self._post_ptr):
            low, high = int(self._post_ptr[term]), int(self._post_ptr[term + 1])
            slots.append(self._post_slots[low:high])
            tfs.append(self._post_tf[low:high])
        tail = self._post_tail.get(term)
        if tail is not None:
            # Copies, not views: an array exporting its buffer could not grow on the next add.
            slots.append(np.array(tail[0], dtype=np.int32))
            tfs.append(np.array(tail[1], dtype=np.uint16))
        if not slots:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.uint16)
        if len(slots) == 1:
            return slots[0], tfs[0]
        return np.concatenate(slots), np.concatenate(tfs)

    def query_terms(self, text: str) -> list[str]:
        """The distinct terms of a query that some indexed memory has."""
        seen: dict[str, None] = {}
        for word in tokenize(text):
            term = self._terms.get(word)
            if term is not None and self._df[term] > 0:
                seen[word] = None
        return list(seen)

    def idf(self, term: str) -> float:
        """``ln(1 + (N - df + 0.5) / (df + 0.5))`` of a term (its value for df = 0 if unknown)."""
        term_id = self._terms.get(term)
        df = int(self._df[term_id]) if term_id is not None else 0
        return self._idf(df)

    def _idf(self, df: int) -> float:
        count = len(self._slot)
        return math.log(1.0 + (count - df + 0.5) / (df + 0.5))

    def _dense(self, weights: dict[int, float]) -> Floats:
        """BM25 of every slot for weighted query terms (dead slots may hold stale values)."""
        count = len(self._slot)
        used = self._slots_used
        if not weights or count == 0:
            return np.zeros(used, dtype=np.float64)
        average = self._total_length / count if self._total_length > 0 else 1.0
        k1, b = self.k1, self.b
        slot_parts: list[npt.NDArray[np.int32]] = []
        weight_parts: list[Floats] = []
        for term, query_weight in weights.items():
            slots, tf_raw = self._postings(term)
            if not len(slots):
                continue
            tf = tf_raw.astype(np.float64)
            norm = k1 * (1.0 - b + b * (self._lengths[slots] / average))
            factor = query_weight * self._idf(int(self._df[term])) * (k1 + 1.0)
            slot_parts.append(slots)
            weight_parts.append(factor * tf / (tf + norm))
        if not slot_parts:
            return np.zeros(used, dtype=np.float64)
        dense: Floats = np.bincount(
            np.concatenate(slot_parts), weights=np.concatenate(weight_parts), minlength=used
        ).astype(np.float64, copy=False)
        return dense

    def search(
        self,
        query: str,
        *,
        allowed: Labels | None = None,
        context_weight: float = 0.0,
        feedback_docs: int = 0,
        feedback_terms: int = 0,
        feedback_weight: float = 0.0,
    ) -> KeywordScores:
        """BM25 scores of the memories matching ``query`` (only ``allowed`` ones if given).

        Args:
            query: The query text (tokenized like memory texts).
            allowed: Restrict to these labels (unknown labels are ignored).
            context_weight: ``c`` in ``score(d) + c * score(previous turn of d)``; 0 turns it off.
            feedback_docs: Memories of a first pass that expand the query (0 = no feedback).
            feedback_terms: Expansion terms taken from them.
            feedback_weight: Weight of an expansion term relative to a query term (the best
                expansion term gets it; others in proportion).
        """
        weights = {self._terms[word]: 1.0 for word in self.query_terms(query)}
        ceiling = (self.k1 + 1.0) * sum(self._idf(int(self._df[term])) for term in weights)
        mask = self._allowed_mask(allowed) if allowed is not None else None
        dense = self._dense(weights)
        if feedback_docs > 0 and feedback_terms > 0 and feedback_weight > 0.0 and weights:
            expansion = self._feedback(dense, mask, weights, feedback_docs, feedback_terms, feedback_weight)
            if expansion:
                dense = self._dense({**weights, **expansion})
        hit = np.flatnonzero(dense)
        hit = hit[self._alive[hit]]
        scores = dense
        if context_weight > 0.0 and len(hit):
            following = self._next[hit]
            linked = following != _NO_SLOT
            if linked.any():
                scores = dense.copy()
                targets = following[linked]
                # Each slot has at most one previous turn, so the targets are distinct.
                scores[targets] += context_weight * dense[hit[linked]]
                hit = np.union1d(hit, targets)
        if mask is not None:
            hit = hit[mask[hit]]
        return KeywordScores(self._labels[hit], scores[hit], ceiling)

    def _feedback(
        self,
        dense: Floats,
        mask: npt.NDArray[np.bool_] | None,
        weights: dict[int, float],
        docs: int,
        terms: int,
        weight: float,
    ) -> dict[int, float]:
        hit = np.flatnonzero(dense)
        hit = hit[self._alive[hit]]
        if mask is not None:
            hit = hit[mask[hit]]
        if not len(hit):
            return {}
        if len(hit) > docs:
            hit = hit[np.argpartition(-dense[hit], docs - 1)[:docs]]
        best = float(dense[hit].max())
        mass: dict[int, float] = {}
        for slot in hit.tolist():
            doc_terms, doc_tf = self._forward(slot)
            length = max(1.0, float(self._lengths[slot]))
            relevance = float(dense[slot]) / best
            for term, tf in zip(doc_terms.tolist(), doc_tf.tolist(), strict=True):
                if term not in weights:
                    mass[term] = mass.get(term, 0.0) + relevance * tf / length
        if not mass:
            return {}
        scored = sorted(
            ((value * self._idf(int(self._df[term])), term) for term, value in mass.items()),
            reverse=True,
        )[:terms]
        top = scored[0][0]
        if top <= 0.0:
            return {}
        return {term: weight * value / top for value, term in scored if value > 0.0}

    def _allowed_mask(self, allowed: Labels) -> npt.NDArray[np.bool_]:
        # The store passes the same cached array again and again until something changes.
        cached = self._mask_cache
        if cached is not None and cached[0] is allowed and cached[1] == self._mutations:
            return cached[2]
        sorted_labels, sorted_slots = self._sorted()
        mask = np.zeros(self._slots_used, dtype=np.bool_)
        wanted = np.asarray(allowed, dtype=np.int64).reshape(-1)
        if len(sorted_labels) and len(wanted):
            positions = np.minimum(np.searchsorted(sorted_labels, wanted), len(sorted_labels) - 1)
            found = sorted_labels[positions] == wanted
            mask[sorted_slots[positions[found]]] = True
        self._mask_cache = (allowed, self._mutations, mask)
        return mask

    def _sorted(self) -> tuple[Labels, npt.NDArray[np.int64]]:
        cached = self._sorted_cache
        if cached is not None and cached[0] == self._mutations:
            return cached[1], cached[2]
        live = np.flatnonzero(self._alive[: self._slots_used])
        labels = self._labels[live]
        order = np.argsort(labels, kind="stable")
        result = (labels[order], live[order].astype(np.int64))
        self._sorted_cache = (self._mutations, *result)
        return result

    # -- snapshots ------------------------------------------------------------------------

    def _compact(self) -> dict[str, Any]:
        """The live documents renumbered 0..n-1 in slot order, with CSR postings and forward lists."""
        used = self._slots_used
        alive = self._alive[:used]
        base_docs = len(self._fwd_ptr) - 1
        tail_starts = (
            np.frombuffer(self._tail_start, dtype=np.int64) if len(self._tail_start) else np.zeros(0, np.int64)
        )
        tail_counts = np.diff(np.append(tail_starts, len(self._tail_terms)))
        tail_terms = np.frombuffer(self._tail_terms, dtype=np.int32) if len(self._tail_terms) else np.zeros(0, np.int32)
        tail_tfs = np.frombuffer(self._tail_tfs, dtype=np.uint16) if len(self._tail_tfs) else np.zeros(0, np.uint16)
        # Tail slots are all past the base ones, so the entries stay in slot order.
        entry_slots = [
            np.repeat(np.arange(base_docs, dtype=np.int64), np.diff(self._fwd_ptr)),
            np.repeat(np.arange(base_docs, base_docs + len(tail_starts), dtype=np.int64), tail_counts),
        ]
        entry_terms = [self._fwd_terms.astype(np.int64), tail_terms.astype(np.int64)]
        entry_tfs = [self._fwd_tf, tail_tfs.copy()]
        slots = np.concatenate(entry_slots)
        terms = np.concatenate(entry_terms)
        tfs = np.concatenate(entry_tfs)
        keep = alive[slots] if len(slots) else np.zeros(0, dtype=np.bool_)
        slots, terms, tfs = slots[keep], terms[keep], tfs[keep]
        slot_remap = np.cumsum(alive) - 1
        new_slots = slot_remap[slots]
        live_slots = np.flatnonzero(alive)
        vocabulary = len(self._term_list)
        live_terms = np.flatnonzero(self._df[:vocabulary] > 0)
        term_remap = np.full(vocabulary, -1, dtype=np.int64)
        term_remap[live_terms] = np.arange(len(live_terms))
        new_terms = term_remap[terms]
        docs = len(live_slots)
        fwd_ptr = np.zeros(docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(new_slots, minlength=docs), out=fwd_ptr[1:])
        order = np.argsort(new_terms, kind="stable")
        post_ptr = np.zeros(len(live_terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(new_terms, minlength=len(live_terms)), out=post_ptr[1:])
        prev = self._prev[live_slots]
        nxt = self._next[live_slots]
        prev = np.where(prev == _NO_SLOT, _NO_SLOT, slot_remap[np.maximum(prev, 0)])
        nxt = np.where(nxt == _NO_SLOT, _NO_SLOT, slot_remap[np.maximum(nxt, 0)])
        turn_of, _ = self._turn_maps()
        turn_labels = [label for label in turn_of if label in self._slot]
        turn_slots = np.array([slot_remap[self._slot[label]] for label in turn_labels], dtype=np.int64)
        return {
            "labels": self._labels[live_slots].copy(),
            "lengths": self._lengths[live_slots].astype(np.int32),
            "prev": prev.astype(np.int64),
            "next": nxt.astype(np.int64),
            "fwd_ptr": fwd_ptr,
            "fwd_terms": new_terms.astype(np.int32),
            "fwd_tf": tfs.astype(np.uint16),
            "post_ptr": post_ptr,
            "post_slots": new_slots[order].astype(np.int32),
            "post_tf": tfs[order].astype(np.uint16),
            "turn_slots": turn_slots,
            "turn_values": np.array([turn_of[label][1] for label in turn_labels], dtype=np.int64),
            "vocabulary": [self._term_list[t] for t in live_terms.tolist()],
            "runs": [turn_of[label][0] for label in turn_labels],
        }

    def _adopt(self, parts: dict[str, Any]) -> None:
        """Take the compact form from :meth:`_compact` or a snapshot as the whole state."""
        labels = parts["labels"]
        docs = len(labels)
        capacity = max(256, docs + docs // 4)
        self._labels = np.zeros(capacity, dtype=np.int64)
        self._labels[:docs] = labels
        self._lengths = np.zeros(capacity, dtype=np.float64)
        self._lengths[:docs] = parts["lengths"]
        self._alive = np.zeros(capacity, dtype=np.bool_)
        self._alive[:docs] = True
        self._prev = np.full(capacity, _NO_SLOT, dtype=np.int64)
        self._prev[:docs] = parts["prev"]
        self._next = np.full(capacity, _NO_SLOT, dtype=np.int64)
        self._next[:docs] = parts["next"]
        self._slots_used = docs
        self._fwd_ptr, self._fwd_terms, self._fwd_tf = parts["fwd_ptr"], parts["fwd_terms"], parts["fwd_tf"]
        self._tail_start, self._tail_terms, self._tail_tfs = array("q"), array("i"), array("H")
        self._post_ptr, self._post_slots, self._post_tf = parts["post_ptr"], parts["post_slots"], parts["post_tf"]
        self._post_tail = {}
        vocabulary: list[str] = parts["vocabulary"]
        self._term_list = vocabulary
        self._terms = dict(zip(vocabulary, range(len(vocabulary)), strict=True))
        self._df = np.zeros(max(256, len(vocabulary) * 2), dtype=np.int64)
        self._df[: len(vocabulary)] = np.diff(self._post_ptr)
        self._slot = dict(zip(labels.tolist(), range(docs), strict=True))
        self._total_length = float(self._lengths[:docs].sum())
        self._turn_raw = (parts["turn_slots"], parts["turn_values"], parts["runs"])
        self._turn_of = None
        self._by_turn = None
        self._mutations += 1
        self._mask_cache = None
        self._sorted_cache = None

    _ARRAYS: tuple[tuple[str, Any], ...] = (
        ("labels", np.int64),
        ("lengths", np.int32),
        ("prev", np.int64),
        ("next", np.int64),
        ("fwd_ptr", np.int64),
        ("fwd_terms", np.int32),
        ("fwd_tf", np.uint16),
        ("post_ptr", np.int64),
        ("post_slots", np.int32),
        ("post_tf", np.uint16),
        ("turn_slots", np.int64),
        ("turn_values", np.int64),
    )

    def to_bytes(self) -> bytes:
        """The whole index, compacted (plaintext: the caller encrypts it)."""
        parts = self._compact()
        chunks: list[bytes] = []
        sizes: dict[str, int] = {}
        for name, dtype in self._ARRAYS:
            data = np.ascontiguousarray(parts[name], dtype=dtype).astype(np.dtype(dtype).newbyteorder("<")).tobytes()
            sizes[name] = len(parts[name])
            chunks.append(data + b"\0" * (-len(data) % 8))
        strings = json.dumps({"vocabulary": parts["vocabulary"], "runs": parts["runs"]}, ensure_ascii=False).encode()
        header = json.dumps(
            {"k1": self.k1, "b": self.b, "sizes": sizes, "strings": len(strings)}, separators=(",", ":")
        ).encode()
        body = b"".join([_HEADER.pack(len(header)), header, *chunks, strings])
        # Postings of short texts repeat a lot: level 1 shrinks them about 5x for ~70 ms at 100k
        # memories, which keeps the keyword snapshot a small part of the store on disk.
        return _MAGIC_COMPRESSED + zlib.compress(body, 1)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> KeywordIndex:
        """An index from :meth:`to_bytes` output.

        Raises:
            StoreCorruptedError: The bytes are not a keyword index snapshot.
        """
        view = memoryview(data)
        try:
            magic = bytes(view[: len(_MAGIC)])
            if magic == _MAGIC_COMPRESSED:
                view = memoryview(zlib.decompress(view[len(_MAGIC_COMPRESSED) :]))
                position = 0
            elif magic == _MAGIC:
                position = len(_MAGIC)
            else:
                raise StoreCorruptedError("not a keyword index snapshot")
            (length,) = _HEADER.unpack_from(view, position)
            position += _HEADER.size
            header = json.loads(bytes(view[position : position + length]))
            position += length
            parts: dict[str, Any] = {}
            for name, dtype in cls._ARRAYS:
                count = int(header["sizes"][name])
                kind = np.dtype(dtype).newbyteorder("<")
                size = count * kind.itemsize
                if position + size > len(view):
                    raise StoreCorruptedError("keyword index snapshot is truncated")
                parts[name] = np.frombuffer(view, dtype=kind, count=count, offset=position).astype(dtype, copy=False)
                position += size + (-size % 8)
            strings = json.loads(bytes(view[position : position + int(header["strings"])]))
            parts["vocabulary"] = list(strings["vocabulary"])
            parts["runs"] = list(strings["runs"])
            index = cls(k1=float(header["k1"]), b=float(header["b"]))
            if (
                len(parts["post_ptr"]) != len(parts["vocabulary"]) + 1
                or len(parts["fwd_ptr"]) != len(parts["labels"]) + 1
            ):
                raise StoreCorruptedError("keyword index snapshot is inconsistent")
        except (ValueError, KeyError, TypeError, struct.error, zlib.error) as error:
            raise StoreCorruptedError(f"keyword index snapshot is malformed: {error}") from None
        index._adopt(parts)
        return index
