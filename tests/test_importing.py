"""`import moderngov` against a stand-in ModernGov site on loopback (tests/moderngov_standin.py):
real HTTP, real PDFs (reportlab), the real manifest reader."""
from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.errors import SiteError
from assistant.importing import doc_type, import_moderngov
from assistant.corpus import read_manifest
from assistant.moderngov import ModernGovClient, parse_date
from conftest import make_pdf
from moderngov_standin import Doc, Item, StandInMeeting, StandInModernGov

MEETING = dt.date(2026, 2, 10)
CONTACT = "clerk@example.org"


def pdf(tmp_path: Path, name: str, *pages: str) -> bytes:
    return make_pdf(tmp_path / f"{name}.pdf", list(pages)).read_bytes()


@pytest.fixture
def site(tmp_path):
    """Two committees; Planning meets in January (cancelled), February and (out of range) in 2025."""
    stand_in = StandInModernGov(prefix="/moderngov")
    stand_in.committees = {"144": "Planning Committee", "163": "Cabinet"}
    stand_in.meetings = {
        "4966": StandInMeeting("4966", "144", dt.date(2026, 1, 13), status="Cancelled", items=[
            Item("3", "Applications", [Doc("60001", "Cancelled meeting report", pdf(tmp_path, "c", "Never fetched."))])]),
        "4967": StandInMeeting("4967", "144", MEETING, items=[
            Item("1", "Agenda", [Doc("60850", "Agenda frontsheet", pdf(tmp_path, "a", "Agenda of the meeting."))]),
            Item("5", "Land at Mill Lane", [
                Doc("60860", "Report of the Head of Planning", pdf(
                    tmp_path, "r", "The application proposes 120 homes on land at Mill Lane.",
                    "Officers recommend approval subject to a section 106 agreement.")),
                Doc("60861", "Appendix 1 - Site plan", pdf(tmp_path, "p", "Site plan of the Mill Lane land."))]),
            Item("6", "Exempt information", [Doc("60870", "Valuation report", pdf(tmp_path, "v", "Secret value."))],
                 restricted=True),
            Item("7", "Packs", [Doc("60880", "Public reports pack 10th-Feb-2026 10.00 Planning Committee",
                                    pdf(tmp_path, "k", "Everything again."))]),
        ]),
        "4100": StandInMeeting("4100", "144", dt.date(2025, 3, 4), items=[
            Item("4", "Old business", [Doc("50001", "Old report", pdf(tmp_path, "o", "Out of range."))])]),
        "5001": StandInMeeting("5001", "163", dt.date(2026, 2, 12), items=[
            Item("8", "Budget 2026/27", [Doc("61000", "Budget report", pdf(tmp_path, "b", "Council tax rises 4.99%."))])]),
    }
    stand_in.start()
    yield stand_in
    stand_in.stop()


def client(site: StandInModernGov, **options) -> ModernGovClient:
    options = {"delay": 0.0, "timeout": 5.0, "retries": 1, "backoff": 0.01} | options
    return ModernGovClient(site.url, CONTACT, **options)


def run(site, folder, today=MEETING + dt.timedelta(days=1), **options):
    kwargs = {"since": dt.date(2026, 1, 1), "until": dt.date(2026, 3, 31)} | options
    return import_moderngov(client(site), folder, council="Example Council", today=today, **kwargs)


def test_committee_filter_and_date_range_fetch_the_meetings_papers_and_describe_them(site, tmp_path):
    folder = tmp_path / "papers"
    report = run(site, folder, committees=["planning"])
    assert sorted(p["file"].split("-")[5] for p in report.fetched) == ["60850", "60860", "60861"]
    assert site.service_requests("GetMeetings") == [
        "/moderngov/mgWebService.asmx/GetMeetings?lCommitteeId=144&sFromDate=01%2F01%2F2026&sToDate=31%2F03%2F2026"]
    assert [r for r in site.requests if "GetMeeting?" in r] == ["/moderngov/mgWebService.asmx/GetMeeting?lMeetingId=4967"]
    assert all(agent.startswith("council-assistant/") and CONTACT in agent for agent in site.agents)
    entries = read_manifest(folder)
    report_entry = next(e for name, e in entries.items() if "60860" in name)
    assert report_entry == {
        "id": "127-0-0-1-60860", "title": "Report of the Head of Planning", "date": "2026-02-10",
        "doc_type": "report", "council": "Example Council", "committee": "Planning Committee",
        "source": f"{site.url}/mgConvert2PDF.aspx?ID=60860", "item": "5. Land at Mill Lane"}
    types = {e["title"]: e["doc_type"] for name, e in entries.items() if name != "*"}
    assert types == {"Agenda frontsheet": "agenda", "Report of the Head of Planning": "report",
                     "Appendix 1 - Site plan": "appendix"}
    for name in [n for n in entries if n != "*"]:
        assert (folder / name).read_bytes().startswith(b"%PDF-")


def test_cancelled_meetings_restricted_items_and_reports_packs_are_not_fetched(site, tmp_path):
    report = run(site, tmp_path / "papers", committees=["144"])
    fetched = " ".join(site.document_requests())
    assert "60001" not in fetched and "60870" not in fetched and "60880" not in fetched
    assert not any("4966" in r for r in site.requests if "GetMeeting?" in r)
    reasons = {what.split(": ", 1)[-1]: why for what, why in report.skipped}
    assert "cancelled" in next(why for what, why in report.skipped if "2026-01-13" in what)
    assert "restricted" in reasons["Valuation report"]
    assert "reports pack" in reasons["Public reports pack 10th-Feb-2026 10.00 Planning Committee"]


def test_meetings_outside_the_range_are_filtered_here_although_the_server_sends_them(site, tmp_path):
    report = run(site, tmp_path / "papers", committees=["Planning Committee"])
    assert not any("50001" in r for r in site.document_requests())
    assert not any("4100" in r for r in site.requests)
    assert report.meetings_checked == 1


def test_a_rerun_fetches_nothing_already_held(site, tmp_path):
    folder = tmp_path / "papers"
    first = run(site, folder)
    manifest = (folder / "manifest.toml").read_bytes()
    site.requests.clear()
    second = run(site, folder)
    assert len(first.fetched) == 4 and second.fetched == [] and second.held == 4
    assert site.document_requests() == []
    assert (folder / "manifest.toml").read_bytes() == manifest
    # once checked a window's length after the meeting, a meeting is not asked for again
    run(site, folder, today=MEETING + dt.timedelta(days=40))
    site.requests.clear()
    settled = run(site, folder, today=MEETING + dt.timedelta(days=41))
    assert site.document_requests() == [] and not any("GetMeeting?" in r for r in site.requests)
    assert settled.meetings_held == 2


def test_a_late_document_is_picked_up_by_the_rolling_window(site, tmp_path):
    folder = tmp_path / "papers"
    run(site, folder, committees=["Planning"], since=None, until=None)
    site.meetings["4967"].items.insert(0, Item("2", "Minutes", [Doc(
        "60990", "Printed minutes 10th-Feb-2026 10.00 Planning Committee",
        pdf(tmp_path, "m", "RESOLVED: that the application be approved."))]))
    site.requests.clear()
    report = run(site, folder, today=MEETING + dt.timedelta(days=20), committees=["Planning"], since=None,
                 until=None)
    assert [p["title"] for p in report.fetched] == ["Printed minutes 10th-Feb-2026 10.00 Planning Committee"]
    assert report.fetched[0]["doc_type"] == "minutes" and report.held == 3
    assert [r for r in site.document_requests()] == ["/moderngov/mgConvert2PDF.aspx?ID=60990"]
    minutes = next(e for n, e in read_manifest(folder).items() if "60990" in n)
    assert minutes["date"] == "2026-02-10" and minutes["item"] == "2. Minutes"


def test_hand_written_manifest_entries_and_comments_are_kept(site, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    written = ('# described by hand\n[defaults]\ncouncil = "Example Council"\n\n'
               '[documents."letter.pdf"]\ntitle = "A letter"\ndate = 2025-12-01\n')
    (folder / "manifest.toml").write_text(written, encoding="utf-8")
    run(site, folder, committees=["Cabinet"])
    text = (folder / "manifest.toml").read_text(encoding="utf-8")
    assert text.startswith(written)
    entries = read_manifest(folder)
    assert entries["letter.pdf"]["title"] == "A letter"
    assert any(e.get("title") == "Budget report" for e in entries.values())


def test_the_same_bytes_under_another_attachment_are_stored_once(site, tmp_path):
    again = site.meetings["4967"].items[1].docs[0].data
    site.meetings["5001"].items[0].docs.append(Doc("61001", "Planning report (copy)", again))
    report = run(site, tmp_path / "papers")
    assert any("not stored twice" in why for _, why in report.skipped)
    assert not any("61001" in p["file"] for p in report.fetched)


@pytest.mark.parametrize("mode, says", [
    ("html", "web page (HTML)"), ("403", "refuses access (HTTP 403)"), ("redirect", "redirects (302)")])
def test_a_site_that_answers_html_refuses_or_redirects_fails_in_one_line_and_writes_nothing(
        site, tmp_path, mode, says, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    site.mode = mode
    folder = tmp_path / "papers"
    code = main(["import", "moderngov", site.url, "--contact", CONTACT, "--into", str(folder)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and says in err and site.url in err and "try" in err
    assert not folder.exists()


def test_a_slow_server_times_out_with_a_clear_error(site, tmp_path):
    site.mode = "slow"
    site.slow_seconds = 2.0
    with pytest.raises(SiteError, match=r"no answer within 0.3 s after 2 attempts.*try again later"):
        import_moderngov(client(site, timeout=0.3), tmp_path / "papers", today=MEETING)


@pytest.mark.parametrize("cut", ["cut", "cut_without_length"])
def test_a_download_cut_half_way_leaves_no_file_and_is_fetched_next_run(site, tmp_path, cut):
    folder = tmp_path / "papers"
    getattr(site, cut).add("60860")
    report = run(site, folder, committees=["Planning"])
    assert [what for what, _ in report.failed] == ["Planning Committee 2026-02-10: Report of the Head of Planning"]
    assert "cut short" in report.failed[0][1]
    assert not any("60860" in p.name for p in folder.iterdir())
    assert not any("60860" in name for name in read_manifest(folder))
    assert len(report.fetched) == 2
    getattr(site, cut).clear()
    again = run(site, folder, committees=["Planning"])
    assert [p["title"] for p in again.fetched] == ["Report of the Head of Planning"]
    entries = read_manifest(folder)
    assert len([n for n in entries if n != "*"]) == 3
    assert all((folder / n).is_file() for n in entries if n != "*")


def test_a_committee_that_does_not_exist_is_named_with_the_sites_committees(site, tmp_path):
    with pytest.raises(SiteError, match="no such committee.*Planning Committee; Cabinet"):
        run(site, tmp_path / "papers", committees=["Licensing"])


def test_cli_json_report(site, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COUNCIL_ASSISTANT_IMPORT_DELAY", "0")
    code = main(["import", "moderngov", site.url + "/mgWebService.asmx", "--contact", CONTACT, "--committee",
                 "Cabinet", "--since", "2026-01-01", "--until", "2026-03-31", "--council", "Example Council",
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["folder"] == "corpus/example-council"
    assert [p["title"] for p in out["fetched"]] == ["Budget report"]
    assert tomllib.loads((tmp_path / "corpus/example-council/manifest.toml").read_text())["documents"]


def test_service_dates_and_doc_types():
    assert parse_date("10/02/2026") == dt.date(2026, 2, 10)
    assert parse_date("31/02/2026") is None and parse_date("") is None
    assert doc_type("6 - CHAIR APPROVED  Minutes Audit Committee 25 Nov 2025", "Minutes") == "minutes"
    assert doc_type("DRAFT WP  FEBRUARY 2026", "Work Programme") == "report"
    assert doc_type("Appendix 2 - Equality impact assessment", "Budget") == "appendix"
    assert doc_type("Record of Decisions", "Decisions") == "decision"


def test_import_with_ingest_makes_the_papers_searchable_with_committee_and_meeting_date(
        site, tmp_path, capsys, monkeypatch, encoder):
    from assistant.app import Assistant
    from assistant.settings import Settings

    monkeypatch.setattr("assistant.app.Embedder", lambda *args, **kwargs: encoder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COUNCIL_ASSISTANT_IMPORT_DELAY", "0")
    code = main(["--index", "index", "import", "moderngov", site.url, "--contact", CONTACT, "--since", "2026-01-01",
                 "--until", "2026-03-31", "--council", "Example Council", "--ingest", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(out["ingest"]["added"]) == 4 and out["ingest"]["failed"] == []
    assistant = Assistant(Settings.load(env={}, index_dir=tmp_path / "index", progress=False), encoder=encoder)
    top = assistant.search("homes on land at Mill Lane", k=1, since="2026-02-01", until="2026-02-28")[0]
    assert "120 homes" in top.chunk.text
    assert (top.meta.committee, top.meta.date, top.meta.council) == ("Planning Committee", "2026-02-10",
                                                                     "Example Council")
    assert top.meta.source == f"{site.url}/mgConvert2PDF.aspx?ID=60860"
    assert assistant.search("homes on land at Mill Lane", since="2026-02-11") == [] or all(
        "Mill Lane" not in p.chunk.text for p in assistant.search("homes on land at Mill Lane", since="2026-02-11"))
    # a second import with --ingest fetches and re-embeds nothing
    main(["--index", "index", "import", "moderngov", site.url, "--contact", CONTACT, "--since", "2026-01-01",
          "--until", "2026-03-31", "--council", "Example Council", "--ingest", "--json"])
    again = json.loads(capsys.readouterr().out)
    assert again["fetched"] == [] and again["ingest"]["added"] == [] and again["ingest"]["chunks_embedded"] == 0


def test_import_and_smtp_settings_are_validated():
    from assistant.errors import SettingsError
    from assistant.settings import Settings

    for env in ({"COUNCIL_ASSISTANT_IMPORT_CONTACT": "clerk@example.org\r\nX-Injected: 1"},
                {"COUNCIL_ASSISTANT_IMPORT_TIMEOUT": "0"},
                {"COUNCIL_ASSISTANT_SMTP_RECIPIENTS": "officer@example.org; not an address"}):
        with pytest.raises(SettingsError, match=next(iter(env)).removeprefix("COUNCIL_ASSISTANT_").lower()):
            Settings.load(env=env)
    assert Settings.load(env={"COUNCIL_ASSISTANT_IMPORT_CONTACT": "https://example.org/contact"}).import_contact
