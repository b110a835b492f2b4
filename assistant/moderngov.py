"""A polite client for a ModernGov site's web service, and the parsing of its XML answers.

ModernGov answers plain HTTP GET at `{site}/mgWebService.asmx/{Operation}` with bare UTF-8 XML:
`GetCommittees` (root `committees`), `GetMeetings` (root `getmeetings`, meetings grouped by
committee) and `GetMeeting` (root `meeting`: agenda items, each with `linkeddocuments/linkeddoc`).
Dates are dd/mm/yyyy. Servers are known to ignore the date range of `GetMeetings` and return a
committee's whole history, so callers filter the dates again (`Meeting.date`).

The client sends one request at a time, waits `delay` seconds between requests, gives each a time
limit, retries time-outs, dropped connections, 429 and 5xx answers with exponential back-off, and
names itself and a contact in its User-Agent. Every failure is a `SiteError` whose message names the
site and what to try.
"""
from __future__ import annotations

import datetime as dt
import http.client
import logging
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable

from . import __version__
from .errors import SiteError

log = logging.getLogger(__name__)

SERVICE = "mgWebService.asmx"
MAX_XML_BYTES = 50 * 2**20
MAX_DOCUMENT_BYTES = 200 * 2**20
MAX_RETRY_AFTER = 120.0
_RETRIED_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Committee:
    id: str
    title: str
    deleted: bool = False
    expired: bool = False


@dataclass(frozen=True)
class MeetingRef:
    """A meeting as `GetMeetings` lists it."""

    id: str
    date: dt.date | None
    status: str
    committee_id: str
    committee_title: str

    @property
    def cancelled(self) -> bool:
        return "cancel" in self.status.lower()


@dataclass(frozen=True)
class LinkedDocument:
    attachment_id: str
    title: str
    url: str
    restricted: bool
    publication_date: dt.date | None = None


@dataclass(frozen=True)
class AgendaItem:
    number: str
    title: str
    restricted: bool
    documents: tuple[LinkedDocument, ...] = ()


@dataclass(frozen=True)
class Meeting:
    """A meeting as `GetMeeting` describes it."""

    id: str
    date: dt.date | None
    status: str
    items: tuple[AgendaItem, ...] = field(default=())

    @property
    def cancelled(self) -> bool:
        return "cancel" in self.status.lower()


def parse_date(text: str | None) -> dt.date | None:
    """A ModernGov date (dd/mm/yyyy, sometimes followed by a time) as a date; None when absent or
    not a date."""
    match = re.match(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})", text or "")
    if not match:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def service_date(day: dt.date) -> str:
    """A date as the web service expects it: dd/mm/yyyy."""
    return day.strftime("%d/%m/%Y")


def _root(data: bytes, expected: str, where: str) -> ET.Element:
    """The XML root of an answer, checked to be `expected`; a SiteError when the answer is HTML, not
    XML, or another document (a disabled service answers with an HTML page or a SOAP fault)."""
    head = data.lstrip()[:512].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        raise SiteError(f"{where}: the site answered with a web page (HTML), not the web service's XML; "
                        "the web service may be disabled or behind a sign-in or bot check: ask the council "
                        "to enable mgWebService.asmx, or try the address of the site's ModernGov pages")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SiteError(f"{where}: the answer is not XML ({exc}); check SITE_URL points at a ModernGov "
                        "site (the folder holding mgWebService.asmx)") from exc
    tag = root.tag.rsplit("}", 1)[-1].lower()
    if tag != expected:
        raise SiteError(f"{where}: the answer is a <{tag}> document, not <{expected}>; the web service "
                        "may be disabled or a different version: check SITE_URL")
    return root


def _text(element: ET.Element, name: str) -> str:
    return (element.findtext(name) or "").strip()


def _flag(element: ET.Element, name: str) -> bool:
    return _text(element, name).lower() == "true"


def parse_committees(data: bytes, where: str = "GetCommittees") -> list[Committee]:
    root = _root(data, "committees", where)
    return [Committee(id=_text(c, "committeeid"), title=_text(c, "committeetitle"),
                      deleted=_flag(c, "committeedeleted"), expired=_flag(c, "committeeexpired"))
            for c in root.iter("committee") if _text(c, "committeeid")]


def parse_meetings(data: bytes, where: str = "GetMeetings") -> list[MeetingRef]:
    root = _root(data, "getmeetings", where)
    meetings = []
    for committee in root.iter("committee"):
        for meeting in committee.iter("meeting"):
            if _text(meeting, "meetingid"):
                meetings.append(MeetingRef(
                    id=_text(meeting, "meetingid"), date=parse_date(meeting.findtext("meetingdate")),
                    status=_text(meeting, "meetingstatus"), committee_id=_text(committee, "committeeid"),
                    committee_title=_text(committee, "committeetitle")))
    return meetings


def parse_meeting(data: bytes, base_url: str, where: str = "GetMeeting") -> Meeting:
    """A meeting's agenda items and their linked documents; relative document URLs are resolved
    against `base_url` (the site)."""
    root = _root(data, "meeting", where)
    items = []
    for item in root.iter("agendaitem"):
        documents = tuple(
            LinkedDocument(attachment_id=_text(doc, "attachmentid"), title=_text(doc, "title"),
                           url=urllib.parse.urljoin(base_url, _text(doc, "url")),
                           restricted=_flag(doc, "isrestricted"),
                           publication_date=parse_date(doc.findtext("publicationdate")))
            for doc in item.iter("linkeddoc") if _text(doc, "attachmentid") and _text(doc, "url"))
        number = _text(item, "fulldisplaynumberformat").rstrip(".") or _text(item, "agendaitemnumber")
        items.append(AgendaItem(number=number, title=_text(item, "agendaitemtitle"),
                                restricted=_flag(item, "isrestricted"), documents=documents))
    return Meeting(id=_text(root, "meetingid"), date=parse_date(root.findtext("meetingdate")),
                   status=_text(root, "meetingstatus"), items=tuple(items))


def user_agent(contact: str) -> str:
    """An honest User-Agent: the product, its version and who to contact about its requests."""
    return f"council-assistant/{__version__} (document import; contact: {contact})"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class ModernGovClient:
    """One ModernGov site's web service and documents, fetched politely (see the module docstring).

    `site` is the folder holding mgWebService.asmx (e.g. https://democracy.example.gov.uk or
    https://www.example.gov.uk/moderngov). Web-service answers must come from the site itself: a
    redirect is a SiteError naming where it leads. Document downloads follow redirects within the
    same host only.
    """

    def __init__(self, site: str, contact: str, delay: float = 1.0, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> None:
        parsed = urllib.parse.urlsplit(site.strip())
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise SiteError(f"{site!r}: not a web address; give the site as https://host[/path]")
        path = re.sub(rf"/?({re.escape(SERVICE)}.*|[^/]*\.aspx.*)$", "", parsed.path, flags=re.I).rstrip("/")
        self.site = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))
        self.host = parsed.hostname or parsed.netloc
        self.user_agent = user_agent(contact)
        self.delay, self.timeout, self.retries, self.backoff = delay, timeout, retries, backoff
        self._sleep = sleep
        self._last: float | None = None
        self.requests = 0
        self._opener = urllib.request.build_opener(_NoRedirect)

    # -- the web service ----------------------------------------------------------------------
    def committees(self) -> list[Committee]:
        return parse_committees(self._service("GetCommittees", {"lDays": "0"}), self._where("GetCommittees"))

    def meetings(self, committee_id: str, since: dt.date, until: dt.date) -> list[MeetingRef]:
        """The committee's meetings from `since` to `until` inclusive, filtered here as well."""
        data = self._service("GetMeetings", {"lCommitteeId": committee_id, "sFromDate": service_date(since),
                                             "sToDate": service_date(until)})
        return [m for m in parse_meetings(data, self._where("GetMeetings"))
                if m.date is not None and since <= m.date <= until]

    def meeting(self, meeting_id: str) -> Meeting:
        data = self._service("GetMeeting", {"lMeetingId": meeting_id})
        return parse_meeting(data, self.site + "/", self._where("GetMeeting"))

    def _where(self, operation: str) -> str:
        return f"{self.site}/{SERVICE}/{operation}"

    def _service(self, operation: str, params: dict[str, str]) -> bytes:
        url = f"{self._where(operation)}?{urllib.parse.urlencode(params)}"
        return self._get(url, MAX_XML_BYTES, service=True)

    # -- documents ----------------------------------------------------------------------------
    def document(self, url: str) -> bytes:
        """A linked document's bytes, complete: a download cut short (fewer bytes than announced, or
        a PDF without its end marker) is retried, then a SiteError."""
        host = urllib.parse.urlsplit(url).hostname
        if host != self.host:
            raise SiteError(f"{url}: the document is on another host than {self.host}; not fetched")
        return self._get(url, MAX_DOCUMENT_BYTES, service=False)

    # -- one request, politely ----------------------------------------------------------------
    def _get(self, url: str, limit: int, service: bool) -> bytes:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(url, limit, service)
            except _Retry as exc:
                if attempt > self.retries:
                    raise SiteError(f"{url}: {exc.reason} after {attempt} attempts; the site may be busy or "
                                    "down: try again later, or raise import_timeout / import_retries") from None
                wait = exc.retry_after if exc.retry_after is not None else self.backoff * 2 ** (attempt - 1)
                log.info("%s: %s; retrying in %.1f s", url, exc.reason, wait)
                self._sleep(wait)

    def _once(self, url: str, limit: int, service: bool) -> bytes:
        self._wait_turn()
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent,
                                                       "Accept": "text/xml, application/xml, application/pdf, */*"})
        self.requests += 1
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return self._read(response, url, limit)
        except urllib.error.HTTPError as exc:
            status = exc.code
            location = exc.headers.get("Location") if exc.headers else None
            exc.close()
            if 300 <= status < 400:
                target = urllib.parse.urljoin(url, location or "")
                if not service and urllib.parse.urlsplit(target).hostname == self.host and location:
                    return self._once(target, limit, service)
                raise SiteError(f"{url}: the site redirects ({status}) to {target or 'elsewhere'}; "
                                "try that address as SITE_URL (the folder holding mgWebService.asmx)") from None
            if status in _RETRIED_STATUS:
                raise _Retry(f"HTTP {status}", _retry_after(exc.headers)) from None
            if status in (401, 403):
                raise SiteError(f"{url}: the site refuses access (HTTP {status}); its firewall may block "
                                "automated clients or the web service needs a sign-in: ask the council to "
                                "allow the web service, or try its pages in a browser and download the papers "
                                "by hand") from None
            if status == 404:
                raise SiteError(f"{url}: not found (HTTP 404); check SITE_URL (some councils serve ModernGov "
                                "under a sub-path such as /moderngov)") from None
            raise SiteError(f"{url}: HTTP {status}; check SITE_URL or try again later") from None
        except (TimeoutError, socket.timeout):
            raise _Retry(f"no answer within {self.timeout:g} s") from None
        except (ConnectionError, http.client.IncompleteRead, http.client.RemoteDisconnected) as exc:
            raise _Retry(f"connection dropped ({type(exc).__name__})") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise _Retry(f"no answer within {self.timeout:g} s") from None
            if isinstance(exc.reason, ConnectionError) and not isinstance(exc.reason, ConnectionRefusedError):
                raise _Retry(f"connection failed ({exc.reason})") from None
            raise SiteError(f"{url}: cannot reach the site ({exc.reason}); check SITE_URL and the "
                            "network") from None

    def _read(self, response, url: str, limit: int) -> bytes:
        announced = response.headers.get("Content-Length")
        expected = int(announced) if announced and announced.isdigit() else None
        if expected is not None and expected > limit:
            raise SiteError(f"{url}: {expected:,} bytes, over the {limit:,} allowed; not fetched")
        data = response.read(limit + 1)
        if len(data) > limit:
            raise SiteError(f"{url}: over the {limit:,} bytes allowed; not fetched")
        if expected is not None and len(data) < expected:
            raise _Retry(f"download cut short ({len(data):,} of {expected:,} bytes)")
        if data.startswith(b"%PDF-") and b"%%EOF" not in data[-2048:]:
            raise _Retry(f"download cut short (PDF of {len(data):,} bytes without its end marker)")
        return data

    def _wait_turn(self) -> None:
        """Wait until `delay` seconds have passed since the last request began."""
        if self._last is not None:
            pause = self.delay - (time.monotonic() - self._last)
            if pause > 0:
                self._sleep(pause)
        self._last = time.monotonic()


class _Retry(Exception):
    """A failure worth trying again: a time-out, a dropped connection, a busy server."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if value and value.strip().isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    return None
