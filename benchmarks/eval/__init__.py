"""memorylink's own retrieval evaluation set and harness (issue 7).

* :mod:`eval.templates` — the vocabulary: fact kinds, distractors and chit-chat.
* :mod:`eval.dataset` — the seeded generator, the DEV / TEST split and the JSONL files in
  ``benchmarks/eval/data/`` (``python benchmarks/eval/generate.py`` rewrites them).
* :mod:`eval.metrics` — recall@k and MRR over turn-level evidence.
* :mod:`eval.harness` — ingest a split into a store exactly as users do (one
  ``add_messages`` per session) and rank every question in each search mode.

The scripts in ``benchmarks/`` import it as ``eval`` (``benchmarks/`` is their ``sys.path[0]``).
"""
