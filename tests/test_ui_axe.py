"""The automated accessibility check: axe-core (npm, installed in tests/node_modules by `make browser`)
loaded into the page by Playwright and run on each view, Chat with an answer, Search with results, the
Library and an open Document: no serious or critical violation of its WCAG 2.x A/AA rules."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_ui import FUNDING, ask

pytestmark = [pytest.mark.slow, pytest.mark.browser]

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
RUN_AXE = """async (tags) => {
    const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
    return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.length, where: v.nodes.slice(0, 4).map(n => n.target.join(' '))}));
}"""


@pytest.fixture(scope="module")
def axe_path() -> Path:
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE} is missing): run `make browser`, which runs "
                    "`npm ci` in tests/ (package.json, package-lock.json)")
    return AXE


@pytest.fixture(scope="module")
def app_url(corpus_assistant, serve_app):
    return serve_app(corpus_assistant).local_url


@pytest.fixture
def page(open_app, app_url, axe_path):
    return open_app(app_url)


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now (injected once per page)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE, WCAG_TAGS)


def check(page, view: str, report: dict) -> None:
    found = axe_violations(page)
    report[view] = found
    print(f"axe on {view}: " + ("no violations" if not found else
          "; ".join(f"{v['impact']} {v['id']} ({v['nodes']} nodes: {', '.join(v['where'])})" for v in found)))


def test_axe_finds_no_serious_violation_in_any_view(page):
    report: dict[str, list[dict]] = {}
    ask(page, FUNDING)
    check(page, "Chat with an answer", report)

    page.get_by_role("tab", name="Search").click()
    page.fill("#ca-query textarea", "foster carers recruitment")
    page.click("#ca-search")
    page.wait_for_selector("#ca-download", state="visible")
    page.locator("#ca-results [role=row].virtual-row").first.wait_for()
    check(page, "Search with results", report)

    page.get_by_role("tab", name="Library").click()
    page.locator("#ca-library [role=row].virtual-row").first.wait_for()
    check(page, "Library", report)

    page.click("#ca-library [data-testid=cell-0-0]")
    page.locator("#ca-document .ca-doc-text").wait_for(state="visible")
    check(page, "an open Document", report)

    blocking = {view: [v for v in found if v["impact"] in BLOCKING] for view, found in report.items()}
    assert not any(blocking.values()), blocking
