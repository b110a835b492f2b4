"""A web page's own text, without the site around it: the front matter a static site generator leaves
at the top, the main content element (site chrome such as cookie banners, menus, breadcrumbs and
footers dropped, guarded so that the text itself is never dropped), and that element's text with a
blank line around each block. Pure functions over bytes and BeautifulSoup trees; `readers` reads
HTML files with them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_HTML_DROP = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
              "button", "template"]
_HTML_BLOCKS = ["p", "div", "section", "article", "main", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                "blockquote", "pre", "table", "ul", "ol", "dd", "dt", "br"]

_FRONT_MATTER = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*---[ \t]*\r?\n((?:[\w-]+:[^\n]*\r?\n|[ \t]+[^\n]*\r?\n){0,50})"
                           rb"---[ \t]*\r?\n")
_MATTER_TITLE = re.compile(rb"^title:[ \t]*[\"']?(.*?)[\"']?[ \t]*\r?$", re.MULTILINE)


def _front_matter(data: bytes) -> tuple[bytes, str | None]:
    """The page without the `---`-fenced front matter a static site generator (Jekyll, Hugo) leaves at
    the top of a saved page (its `date:` and `layout:` lines are not the paper's text), and the title it
    gives."""
    found = _FRONT_MATTER.match(data)
    if found is None:
        return data, None
    title = _MATTER_TITLE.search(found.group(1))
    name = title.group(1).decode("utf-8", errors="replace").strip() if title else ""
    return data[found.end():], name or None


_CHROME = re.compile(r"(?:^|[-_\s])(?:cookies?|consent|gdpr|breadcrumbs?|skip|skiplinks?|sidebar|share|sharing|"
                     r"social|menu|nav|navbar|navigation|header|masthead|banner|footer|feedback|search|related)"
                     r"(?:$|[-_\s])", re.IGNORECASE)
_MAX_CHROME_SHARE = 0.5
_MAX_CHROME_REMOVALS = 100


def main_content(soup):
    """The element of the parsed page `soup` that holds its main text, without the site around it.

    Drops scripts, styles, forms and what the page marks as site chrome: `<nav>`, `<header>`,
    `<footer>`, `<aside>`, ARIA roles, and the `<div>`s council sites build their cookie banners, skip
    links, menus, breadcrumbs, side bars, share bars and footers from, known by their class, id or
    aria-label (`_CHROME`). Such an element is kept when it holds the page's `<h1>` or `<main>`, or more
    than half the page's text (a class name that misleads, like `has-sidebar` on a wrapper). Then `<main>`, `<article>` or
    `role="main"` when the page marks its main text, else the body. Headings, paragraphs, lists and
    tables stay elements, for `_html_text` and table readers. Changes `soup`.
    """
    for tag in soup(_HTML_DROP):
        tag.decompose()
    for tag in soup.select('[role="navigation"], [role="banner"], [role="contentinfo"], [aria-hidden="true"]'):
        tag.decompose()
    body = soup.body or soup
    elements = _elements(body)
    total = elements[0].chars if elements else 0
    removed, inside = 0, -1
    for element in elements:
        if element.first <= inside or not _is_chrome(element.tag):
            continue
        if not element.holds_key and element.chars <= _MAX_CHROME_SHARE * total:
            element.tag.decompose()
            inside = element.last
            removed += 1
            if removed == _MAX_CHROME_REMOVALS:
                break
    return soup.find("main") or soup.find("article") or soup.find(attrs={"role": "main"}) or body


def _is_chrome(tag) -> bool:
    """Whether an element's class, id or aria-label names a part of the site around the text."""
    if tag.name in ("main", "article", "body", "html", "h1", "h2", "h3", "h4", "h5", "h6", "table"):
        return False
    names = f"{' '.join(tag.get('class') or ())} {tag.get('id') or ''} {tag.get('aria-label') or ''}"
    return _CHROME.search(names.strip()) is not None


@dataclass
class _Element:
    """An element of a page with its place in document order (`first`, and `last`, its last
    descendant's), the characters of text it holds (spaces aside) and whether it holds an `<h1>` or
    `<main>`."""

    tag: object
    first: int
    last: int = 0
    chars: int = 0
    holds_key: bool = False


def _elements(root) -> list[_Element]:
    """`root` and the elements below it, in document order, measured in one walk (each element's
    totals added to its parent's when its last descendant is done), so that the time is linear in the
    size of the page however deeply its elements nest."""
    from bs4 import NavigableString, Tag

    out: list[_Element] = []
    stack: list[tuple[object, _Element | None, bool]] = [(root, None, False)]
    while stack:
        node, parent, done = stack.pop()
        if done:
            element = out[node]
            element.last = len(out) - 1
            if parent is not None:
                parent.chars += element.chars
                parent.holds_key = parent.holds_key or element.holds_key
            continue
        element = _Element(node, len(out), holds_key=node.name in ("h1", "main"))
        out.append(element)
        stack.append((element.first, parent, True))
        for child in reversed(node.contents):
            if isinstance(child, Tag):
                stack.append((child, element, False))
            elif type(child) is NavigableString:
                element.chars += len("".join(child.split()))
    return out


_BLOCK_END = object()


def _html_text(root) -> str:
    """The text under `root` (as `get_text("")`) with a blank line around each block element below it.

    Walks with an explicit stack, so the time is linear in the size of the page however deeply its
    elements nest (inserting the blank lines into the tree is quadratic in the depth).
    """
    from bs4 import CData, NavigableString, Tag

    parts: list[str] = []
    stack: list = list(reversed(root.contents))
    while stack:
        node = stack.pop()
        if node is _BLOCK_END:
            parts.append("\n\n")
        elif type(node) in (NavigableString, CData):
            parts.append(str(node))
        elif isinstance(node, Tag):
            if node.name in _HTML_BLOCKS:
                parts.append("\n\n")
                stack.append(_BLOCK_END)
            stack.extend(reversed(node.contents))
    return "".join(parts)
