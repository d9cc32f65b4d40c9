"""paper digest: a daily, personalised email digest of new and trending research papers.

The pipeline reads as the package does: sources -> store -> rank -> render -> mail, strung
together by `pipeline` and driven by `cli` (and, later, the scheduler).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("paper-digest")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
