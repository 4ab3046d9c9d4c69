"""Settings and limits, passed to the store explicitly (the library reads no environment)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EventSettings", "IndexSettings", "Limits", "SearchSettings", "Settings"]


class Limits(BaseModel):
    """Input limits. Each error that enforces one names the field below."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_text_length: int = Field(16_384, ge=1, description="characters in a memory's text")
    max_tags: int = Field(32, ge=0, description="tags on one memory")
    max_tag_length: int = Field(64, ge=1, description="characters in one tag")
    max_metadata_bytes: int = Field(16_384, ge=2, description="metadata size as compact JSON (UTF-8)")
    max_metadata_depth: int = Field(4, ge=1, description="nesting depth of metadata objects/lists")
    max_metadata_keys: int = Field(64, ge=0, description="keys in the top-level metadata object")
    max_scope_id_length: int = Field(128, ge=1, description="characters in user_id / agent_id / run_id")
    max_top_k: int = Field(1_000, ge=1, description="hits one search may return")
    max_batch_size: int = Field(10_000, ge=1, description="items in one add_many / delete_many call")
    max_page_size: int = Field(1_000, ge=1, description="items in one list() page")
    max_query_length: int = Field(4_096, ge=1, description="characters in a search query")


class IndexSettings(BaseModel):
    """hnswlib parameters, recorded with the store at creation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    m: int = Field(16, ge=2, le=128, description="HNSW graph degree (M)")
    ef_construction: int = Field(128, ge=8, description="HNSW build-time beam width")
    ef_search: int = Field(96, ge=8, description="HNSW query-time beam width (raised to top_k if smaller)")
    exact_search_max_candidates: int = Field(
        4_096,
        ge=0,
        description="a filtered search over at most this many candidates is answered exactly",
    )
    exact_search_max_fraction: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="a filter keeping at most this fraction of memories is answered exactly",
    )
    initial_capacity: int = Field(1_024, ge=16, description="first hnswlib allocation; grows x2")
    checkpoint_after_changes: int = Field(
        20_000,
        ge=1,
        description="unindexed writes after which the index catches up at write time; the snapshot is "
        "rewritten once the journal holds this many entries and as many as the index",
    )


class SearchSettings(BaseModel):
    """Scoring knobs for ``search``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recency_weight: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="w in score = (1 - w) * similarity + w * recency for sort_by='relevance'",
    )
    recency_half_life_days: float = Field(
        30.0,
        gt=0.0,
        description="age at which the recency term halves: recency = 0.5 ** (age_days / half_life)",
    )
    rerank_pool_factor: int = Field(
        4, ge=1, description="relevance / date sorts re-rank top_k * factor nearest candidates"
    )
    related_per_hit: int = Field(3, ge=1, description="neighbours attached per hit with include_similar")
    query_cache_size: int = Field(1_024, ge=0, description="query embeddings kept in the LRU cache")
    hybrid_vector_weight: float = Field(
        0.7,
        ge=0.0,
        le=1.0,
        description="a in hybrid = a * minmax(cosine) + (1 - a) * min(1, bm25 / the query's bm25 ceiling)",
    )
    candidate_pool: int = Field(
        100,
        ge=1,
        le=10_000,
        description="candidates each ranker gives hybrid / keyword search and mmr (at least top_k x factor)",
    )
    bm25_k1: float = Field(1.2, ge=0.0, le=10.0, description="BM25 term-frequency saturation k1")
    bm25_b: float = Field(0.75, ge=0.0, le=1.0, description="BM25 length normalisation b")
    context_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="keyword score of a conversation turn += this x the score of the turn before it (0 = off)",
    )
    feedback_terms: int = Field(
        0, ge=0, le=100, description="pseudo-relevance-feedback expansion terms on the keyword side (0 = off)"
    )
    feedback_docs: int = Field(5, ge=1, le=100, description="first-pass memories the feedback terms come from")
    feedback_weight: float = Field(
        0.3, ge=0.0, le=1.0, description="weight of the best expansion term relative to a query term"
    )
    mmr_lambda: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="mmr=True: lambda * relevance - (1 - lambda) * max cosine to the hits already chosen",
    )


class EventSettings(BaseModel):
    """The durable event outbox (webhook deliveries and the resumable event feed read it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outbox: Literal["auto", "always", "never"] = Field(
        "auto",
        description=(
            "write events to the outbox in the transaction of their change: 'auto' while any webhook "
            "endpoint exists, 'always' (a server offering the event feed), or 'never'"
        ),
    )
    retention_days: float = Field(
        7.0, gt=0, description="keep events this long for the feed, and always until every enabled endpoint had them"
    )
    retention_max_events: int | None = Field(
        1_000_000,
        ge=1,
        description=(
            "keep at most this many of the newest events for the feed, whatever their age (None: no cap); "
            "an event an enabled endpoint has not had yet is kept all the same"
        ),
    )
    deliver: bool = Field(
        True,
        description=(
            "run the outbox worker in this process while endpoints exist (or always, with outbox='always'): "
            "it delivers webhooks and prunes the outbox"
        ),
    )
    delivery_poll_interval_s: float = Field(
        1.0, gt=0, le=60, description="how often the worker looks for events committed by other processes"
    )
    delivery_lease_s: float = Field(
        15.0,
        ge=1,
        le=600,
        description="one process delivers at a time; a lease not renewed for this long is taken over",
    )
    circuit_breaker_threshold: int = Field(
        5, ge=1, le=1000, description="consecutive failures after which an endpoint is paused (circuit open)"
    )
    circuit_breaker_cooldown_s: float = Field(
        30.0, gt=0, le=3600, description="pause before a paused endpoint is probed again (doubles while probes fail)"
    )
    prune_interval_s: float = Field(60.0, gt=0, description="how often the worker prunes the outbox")


class Settings(BaseModel):
    """Everything tunable about a store. Pass one to ``MemoryStore.open(settings=...)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: Limits = Field(default_factory=Limits)
    index: IndexSettings = Field(default_factory=IndexSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    default_user_id: str = Field("default", min_length=1, description="user_id of memories added without one")
    embed_batch_size: int = Field(64, ge=1, description="texts per embedder call")
    write_chunk_size: int = Field(512, ge=1, description="memories per SQLite transaction in add_many")
    dedupe_threshold: float = Field(
        0.98,
        ge=0.0,
        le=1.0,
        description="add(..., dedupe=True) returns a memory of the same scope at least this similar (cosine)",
    )
    synchronous: str = Field(
        "NORMAL",
        pattern="^(NORMAL|FULL)$",
        description="SQLite synchronous mode; NORMAL survives process crashes, FULL also power loss",
    )
    busy_timeout_s: float = Field(30.0, gt=0, description="wait for another process's write lock")
    sqlite_mmap_bytes: int = Field(
        256 * 1024 * 1024,
        ge=0,
        description=(
            "SQLite reads up to this much of the database through a memory map (0: off, plain reads); "
            "mapped pages count in the process's resident memory"
        ),
    )
