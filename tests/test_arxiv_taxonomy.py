"""`digest check` knows arXiv's categories (shipped in the package) and names the nearest valid
one for a typo; fetching itself never depends on the list."""

from __future__ import annotations

from click.testing import CliRunner

from digest.cli import cli
from digest.config.arxiv import categories, is_category, nearest


def test_check_names_the_nearest_category_for_each_typo(write_config) -> None:  # type: ignore[no-untyped-def]
    path = write_config("""
sources:
  - type: arxiv_rss
    categories: [cs.AI, cs.XX, cs.Al, "cs ai", hep-th, cs.LG+stat.ML, math]
  - type: arxiv_rss
    name: second
    categories: [CS.LG, cs.CL+cs.IRR]
""")
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    see = "see https://arxiv.org/category_taxonomy)"
    assert lines[1:] == [
        f"{path}: sources.0.categories.2: 'cs.Al' is not an arXiv category (did you mean cs.AI? "
        + see,
        f"{path}: sources.0.categories.3: 'cs ai' is not an arXiv category (did you mean cs.AI? "
        + see,
        f"{path}: sources.1.categories.0: 'CS.LG' is not an arXiv category (did you mean cs.LG? "
        + see,
        f"{path}: sources.1.categories.1: 'cs.CL+cs.IRR' is not an arXiv category (did you mean "
        f"cs.CL+cs.IR? " + see,
    ]
    first = lines[0]
    assert first.startswith(f"{path}: sources.0.categories.1: 'cs.XX' is not an arXiv category")
    assert "did you mean cs." in first


def test_the_taxonomy_ships_every_archive() -> None:
    known = categories()
    assert len(known) > 150 and known["cs.AI"] == "Artificial Intelligence"
    for category in ("cs.LG", "stat.ML", "q-bio.NC", "cond-mat.stat-mech", "quant-ph", "econ.EM"):
        assert is_category(category), category
    assert not is_category("cs.XX") and is_category("cs")  # rss.arxiv.org serves archives
    assert nearest("physics.optic") == "physics.optics"
