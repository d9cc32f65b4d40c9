"""A term index of one day's papers: the sparse matrices every lexical signal reads.

`build_index(papers, phrases)` tokenises each paper once (title counted twice, abstract once)
into a vocabulary of single terms plus the given phrases (matched as consecutive terms). It
holds BM25 weights for keyword queries and sublinear, l2-normalised TF-IDF rows for similarity.
Text outside the index (liked papers) is projected onto the same vocabulary by `vectorise`.
Pure: no I/O, and the same papers always give the same index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from digest.models import Paper
from digest.rank.authors import AuthorIndex
from digest.rank.categories import CROSS_LIST, PRIMARY
from digest.rank.text import raw_words, terms
from digest.rank.trending import trending_strength

BM25_K1 = 1.2
BM25_B = 0.75
TITLE_REPEAT = 2  # a word in the title says more about the paper than one in the abstract
NEIGHBOURS = 10
NEIGHBOURS_UP_TO = 5000  # a day's pool; past this the all-pairs product costs too much

# scipy.sparse has no type hints; a Matrix is a scipy.sparse.csr_matrix.
Matrix: TypeAlias = Any


@dataclass(frozen=True)
class PaperIndex:
    """Papers as rows, vocabulary terms (and phrases) as columns."""

    papers: tuple[Paper, ...]
    vocab: dict[str, int]
    counts: Matrix  # raw term counts (title repeated)
    bm25: Matrix  # idf x saturated tf, length-normalised: a keyword query is a sum of columns
    tfidf: Matrix  # (1 + log tf) x idf of single terms, unit rows: similarity is a dot product
    neighbours: Matrix | None  # each paper's NEIGHBOURS nearest papers, rows summing to 1
    idf: npt.NDArray[np.float64]  # BM25 idf per column
    tfidf_idf: npt.NDArray[np.float64]  # smoothed idf used by tfidf and vectorise

    def __len__(self) -> int:
        return len(self.papers)

    def column(self, key: str) -> int | None:
        return self.vocab.get(key)

    @cached_property
    def trending(self) -> npt.NDArray[np.float32]:
        """Each paper's trending strength (0..1)."""
        return np.asarray([trending_strength(p) for p in self.papers], dtype=np.float32)

    @cached_property
    def _present(self) -> dict[int, frozenset[int]]:
        return {}

    def present(self, row: int) -> frozenset[int]:
        """The columns a paper has (kept: a paper is explained for many readers of a run)."""
        found = self._present.get(row)
        if found is None:
            counts = self.counts
            found = frozenset(counts.indices[counts.indptr[row] : counts.indptr[row + 1]].tolist())
            self._present[row] = found
        return found

    @cached_property
    def _word_columns(self) -> dict[str, int]:
        """Each word `vectorise` has met, and its column (-1: not indexed), kept for the run:
        a day plan vectorises its readers' liked papers block by block, the same words again."""
        return {}

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Each paper's row, by id."""
        return {p.id: row for row, p in enumerate(self.papers)}

    @cached_property
    def popular(self) -> list[int]:
        """Rows of the papers with upvotes or GitHub stars (candidates to trend)."""
        return [row for row, p in enumerate(self.papers) if p.upvotes or p.github_stars]

    @cached_property
    def popularity(
        self,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The `popular` rows as an array, with their upvotes and GitHub stars."""
        rows = np.asarray(self.popular, dtype=np.intp)
        upvotes = np.asarray([self.papers[r].upvotes or 0 for r in rows], dtype=np.int64)
        stars = np.asarray([self.papers[r].github_stars or 0 for r in rows], dtype=np.int64)
        return rows, upvotes, stars

    @cached_property
    def document_frequency(self) -> npt.NDArray[np.intp]:
        """How many papers hold each column."""
        return np.bincount(self.counts.indices, minlength=len(self.vocab))

    @cached_property
    def authors(self) -> AuthorIndex:
        """The papers' authors, to find a followed name's papers."""
        return AuthorIndex([p.authors for p in self.papers])

    @cached_property
    def categories(self) -> dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]]:
        """Lower-cased category: (rows of its papers, 1 primary / 0.7 cross-list)."""
        found: dict[str, tuple[list[int], list[float]]] = {}
        for row, paper in enumerate(self.papers):
            for position, category in enumerate(dict.fromkeys(c.lower() for c in paper.categories)):
                rows, strengths = found.setdefault(category, ([], []))
                rows.append(row)
                strengths.append(PRIMARY if position == 0 else CROSS_LIST)
        return {
            c: (np.asarray(r, dtype=np.intp), np.asarray(v, dtype=np.float32))
            for c, (r, v) in found.items()
        }

    def vectorise(self, texts: Sequence[str]) -> Matrix:
        """TF-IDF rows (unit length) for texts outside the index, on the index's single terms."""
        vocab = self.vocab
        column_of = self._word_columns  # each distinct word looked up once: -1 when not indexed
        columns: list[int] = []
        indptr = [0]
        for text in texts:
            for word in raw_words(text):
                column = column_of.get(word)
                if column is None:
                    found = terms(word)
                    column = column_of[word] = vocab.get(found[0], -1) if found else -1
                if column >= 0:
                    columns.append(column)
            indptr.append(len(columns))
        counts = sp.csr_matrix(
            (np.ones(len(columns), dtype=np.float32), np.asarray(columns, dtype=np.int32), indptr),
            shape=(len(texts), len(vocab)),
        )
        counts.sum_duplicates()  # repeated columns of a row add up to the term's count
        return _tfidf(counts, self.tfidf_idf)


def paper_text(paper: Paper) -> str:
    return paper.title + " . " + paper.abstract


def build_index(papers: Sequence[Paper], phrases: Iterable[str] = ()) -> PaperIndex:
    """Index papers; `phrases` are phrase keys (see `text.phrase_key`) to count as columns."""
    vocab: dict[str, int] = {}
    starts = _phrase_starts(phrases)
    found_in: list[Counter[str]] = []
    for paper in papers:
        title, abstract = terms(paper.title), terms(paper.abstract)
        found = Counter(abstract)
        for key in title:
            found[key] += TITLE_REPEAT
        for key in found:
            vocab.setdefault(key, len(vocab))
        found.update(_phrases_in(abstract, starts))
        for key in _phrases_in(title, starts):
            found[key] += TITLE_REPEAT
        found_in.append(found)
    # Phrases after every single term: a word's column (and so the order sums are taken in)
    # is the same whoever asked for which phrase, so one subscriber ranked alone and in a batch
    # of thousands gets the very same scores.
    for key in sorted(
        {" ".join(p) for ps in starts.values() for same in ps.values() for p in same}
    ):
        vocab.setdefault(key, len(vocab))  # a phrase no paper holds still gets a (zero) column
    rows = [{vocab[key]: float(n) for key, n in found.items()} for found in found_in]
    counts = _to_matrix(rows, len(vocab))
    n = max(len(papers), 1)
    df = np.bincount(counts.indices, minlength=len(vocab)).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5))
    tfidf_idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    # Similarity reads single terms only: phrase columns depend on who asked for which phrase.
    words = np.asarray([" " not in key for key in vocab], dtype=np.float32)
    tfidf = _tfidf(sp.csr_matrix(counts @ sp.diags(words)), tfidf_idf)
    return PaperIndex(
        papers=tuple(papers),
        vocab=vocab,
        counts=counts,
        bm25=_bm25(counts, idf, words),
        tfidf=tfidf,
        neighbours=_neighbours(tfidf) if len(papers) <= NEIGHBOURS_UP_TO else None,
        idf=idf,
        tfidf_idf=tfidf_idf,
    )


# The phrases by their first term, then by their length: a paper's run of terms is looked up
# once per length, not compared with every phrase that starts with the same word (thousands of
# readers' phrases share their first words: "language model", "language models", …).
Starts = dict[str, dict[int, set[tuple[str, ...]]]]


def _phrase_starts(phrases: Iterable[str]) -> Starts:
    """Phrases (keys of two or more terms) grouped by their first term and their length."""
    starts: Starts = {}
    for key in set(phrases):
        parts = tuple(key.split())
        if len(parts) > 1:
            starts.setdefault(parts[0], {}).setdefault(len(parts), set()).add(parts)
    return starts


def _phrases_in(field_terms: list[str], starts: Starts) -> list[str]:
    """The phrases that occur in a run of terms, once per occurrence."""
    if not starts:
        return []
    found = []
    for i, term in enumerate(field_terms):
        for length, same in starts.get(term, {}).items():
            run = tuple(field_terms[i : i + length])
            if run in same:
                found.append(" ".join(run))
    return found


def _to_matrix(rows: Sequence[dict[int, float]], width: int) -> Matrix:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.fromiter((c for r in rows for c in r), dtype=np.int32, count=int(indptr[-1]))
    data = np.fromiter(
        (v for r in rows for v in r.values()), dtype=np.float32, count=int(indptr[-1])
    )
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(rows), width))
    matrix.sort_indices()
    return matrix


def _bm25(counts: Matrix, idf: npt.NDArray[np.float64], words: npt.NDArray[np.float32]) -> Matrix:
    lengths = counts @ words  # a paper's length in words: phrase columns do not count
    mean = lengths.mean() if lengths.size and lengths.mean() > 0 else 1.0
    norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / mean)
    out = counts.copy().astype(np.float32)
    row_of = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    tf = out.data
    out.data = (idf[out.indices] * tf * (BM25_K1 + 1) / (tf + norm[row_of])).astype(np.float32)
    return out


def _tfidf(counts: Matrix, idf: npt.NDArray[np.float64]) -> Matrix:
    out = counts.copy().astype(np.float32)
    out.eliminate_zeros()
    out.data = ((1.0 + np.log(out.data)) * idf[out.indices]).astype(np.float32)
    norms = np.sqrt(np.asarray(out.multiply(out).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags((1.0 / norms).astype(np.float32)) @ out)


def _neighbours(tfidf: Matrix) -> Matrix | None:
    return neighbours_of(np.asarray((tfidf @ tfidf.T).toarray(), dtype=np.float32))


def neighbours_of(cosine: npt.NDArray[np.float32], k: int = NEIGHBOURS) -> Matrix | None:
    """The k-nearest-neighbour graph from all-pairs cosines, each row normalised to sum 1."""
    n = cosine.shape[0]
    k = min(k, n - 1)
    if k < 1:
        return None
    cosine = np.maximum(cosine, 0.0)
    np.fill_diagonal(cosine, 0.0)
    nearest = np.argpartition(-cosine, k - 1, axis=1)[:, :k]
    weights = np.take_along_axis(cosine, nearest, axis=1)
    total = weights.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    rows = np.repeat(np.arange(n), k)
    return sp.csr_matrix(((weights / total).ravel(), (rows, nearest.ravel())), shape=(n, n))
