"""Safe XML parsing for feeds: no entity expansion, no network, and one clear error for an HTML
page or broken XML where a feed should be."""

from __future__ import annotations

from lxml import etree

from digest.errors import SourceError

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "dc": "http://purl.org/dc/elements/1.1/",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)


def parse_xml(body: bytes) -> etree._Element:
    """The document's root element; SourceError for HTML or malformed XML."""
    head = body.lstrip()[:512].lower()
    if head.startswith((b"<!doctype html", b"<html")) or (
        b"<html" in head and b"<feed" not in head
    ):
        raise SourceError("expected a feed but got an HTML page (an error or login page?)")
    if not head:
        raise SourceError("expected a feed but got an empty response")
    try:
        return etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as e:
        raise SourceError(f"malformed XML ({e.msg}, line {e.lineno})") from e


def text_of(element: etree._Element | None, path: str) -> str | None:
    """The text of the first match of `path` under element (namespaces as in NS)."""
    if element is None:
        return None
    found = element.find(path, NS)
    if found is None:
        return None
    return "".join(str(t) for t in found.itertext())


def texts_of(element: etree._Element, path: str) -> list[str]:
    return ["".join(str(t) for t in e.itertext()) for e in element.findall(path, NS)]
