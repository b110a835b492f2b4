"""The Watches tab in a real browser: a signed-in user sees the shared watches and their own, each with
the passages of newly added papers that matched it (never a paper they may not see), and a match opens
its paper at the passage. Real files, a real index, a real users file, Debian's Chromium."""
from __future__ import annotations

import re

import pytest

from assistant import watches
from tests.conftest import APP_DRAWN

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PLAYGROUND = ("The cabinet approved £250,000 to replace unsafe playground equipment in six parks. Inspections "
              "found broken swings and worn safety surfacing under climbing frames in children's play areas.")
SECRET_PLAYGROUND = ("Exempt report: the contractor's price to replace unsafe playground equipment in the parks "
                     "is £248,000; inspections found broken swings in children's play areas.")
TAX = ("Council tax for a Band D property will rise by 4.99 per cent from April. The precept for the fire "
       "authority is set separately by the combined authority.")
OLD = "Minutes of the cabinet: the library opening hours were agreed for the year."
PASSWORD = "correct horse battery"


def write(folder, name, date, title, text, access="public"):
    (folder / name).write_text(text, encoding="utf-8")
    manifest = folder / "manifest.toml"
    old = manifest.read_text(encoding="utf-8") if manifest.exists() else ""
    manifest.write_text(old + f'[documents."{name}"]\ntitle = "{title}"\ndate = "{date}"\ndoc_type = "report"\n'
                        f'committee = "Cabinet"\naccess = "{access}"\n\n', encoding="utf-8")


@pytest.fixture(scope="module")
def watched_app(tmp_path_factory, embedder, serve_app):
    from assistant.app import Assistant
    from assistant.settings import Settings
    from assistant.users import add_user

    root = tmp_path_factory.mktemp("watched")
    corpus = root / "corpus"
    corpus.mkdir()
    write(corpus, "old.txt", "2025-06-01", "Cabinet minutes June 2025", OLD)
    users = root / "users.toml"
    add_user(users, "clerk", PASSWORD, restricted=False)
    add_user(users, "other", PASSWORD, restricted=False)
    assistant = Assistant(Settings.load(env={}, index_dir=root / "index", progress=False, users_file=str(users)))
    assistant.embedder = embedder
    assistant.ingest([corpus])
    path = watches.watches_path(assistant.settings)
    watches.add(path, "unsafe playground equipment in parks", name="Playgrounds")
    watches.add(path, "replacing broken swings in play areas", name="Swings for the clerk", user="clerk")
    watches.add(path, "council tax rise", name="Council tax for other", user="other")
    write(corpus, "play.txt", "2026-02-10", "Playground renewal", PLAYGROUND)
    write(corpus, "exempt.txt", "2026-02-11", "Playground contract (exempt)", SECRET_PLAYGROUND, access="restricted")
    write(corpus, "tax.txt", "2026-02-12", "Council tax 2026/27", TAX)
    assert not assistant.ingest([corpus]).failed
    recorded = {(m.watch, m.title) for m in watches.load(path).matches}
    assert ("Playgrounds", "Playground renewal") in recorded
    assert ("Playgrounds", "Playground contract (exempt)") in recorded, "the restricted paper matched too"
    return serve_app(assistant).local_url


def sign_in(open_app, url: str, name: str):
    """A page of the app at `url`, signed in as `name`, once the app is drawn."""
    page = open_app(url, drawn="input[type=password]")
    page.locator("input[type=text]").first.fill(name)
    page.locator("input[type=password]").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("login", re.IGNORECASE)).click()
    page.wait_for_selector(APP_DRAWN)
    return page


def test_browser_watches_tab_lists_the_users_watches_and_their_matches(open_app, watched_app):
    page = sign_in(open_app, watched_app, "clerk")
    page.get_by_role("tab", name="Watches").click()
    page.locator("#ca-watches .ca-watch").first.wait_for()
    names = page.locator("#ca-watches .ca-watch h3").all_inner_texts()
    assert [n.split(" (")[0] for n in names] == ["Playgrounds", "Swings for the clerk"], names
    panel = page.inner_text("#ca-watches")
    assert "Watches for clerk" in panel and "Council tax" not in panel
    assert "Playground renewal" in panel and "Playground contract" not in panel and "248,000" not in panel
    assert "10 Feb 2026" in panel and "found" in panel
    page.screenshot(path="tests/artifacts/watches.png")

    page.locator("#ca-watches .ca-watch").first.locator("button.ca-open").first.click()
    hit = page.locator("#ca-document #ca-hit")
    hit.wait_for(state="visible")
    assert "playground equipment" in hit.inner_text()
    assert "Playground renewal" in page.inner_text("#ca-document h2")
    page.click("#ca-back")
    page.locator("#ca-watches .ca-watch").first.wait_for(state="visible")
