"""A stand-in for a council's ModernGov site, served on loopback for the import tests.

It is not ModernGov: it answers the three web-service operations the importer uses
(`mgWebService.asmx/GetCommittees`, `GetMeetings`, `GetMeeting`) and `mgConvert2PDF.aspx?ID=` with
XML written here in the shape of real recorded answers (DemocracyClub LGSF's test fixtures of a
council's GetCommittees, GetMeetings and GetMeeting: roots `committees`, `getmeetings` with meetings
grouped under their committee, `meeting` with `agendaitems/agendaitem/linkeddocuments/linkeddoc`,
dates as dd/mm/yyyy, flags as True/False, absolute `mgConvert2PDF.aspx?ID=` URLs). Like the real
service it ignores GetMeetings' date range and returns the committee's whole history.
Failure modes (`mode`) replay what real sites do: an HTML page instead of XML (a disabled service or
a bot check), 403, a redirect, a slow answer; `cut` serves chosen documents cut half-way.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Doc:
    attachment_id: str
    title: str
    data: bytes
    restricted: bool = False


@dataclass
class Item:
    number: str
    title: str
    docs: list[Doc] = field(default_factory=list)
    restricted: bool = False


@dataclass
class StandInMeeting:
    id: str
    committee_id: str
    date: dt.date
    status: str = "Confirmed"
    items: list[Item] = field(default_factory=list)


class StandInModernGov:
    """The stand-in site: fill `committees` and `meetings`, then `start()`; `requests` lists each
    request's path and query as received, `agents` their User-Agent headers."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.committees: dict[str, str] = {}
        self.meetings: dict[str, StandInMeeting] = {}
        self.requests: list[str] = []
        self.agents: list[str] = []
        self.mode: str | None = None
        self.cut: set[str] = set()
        self.cut_without_length: set[str] = set()
        self.slow_seconds = 3.0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def start(self) -> "StandInModernGov":
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                site._serve(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def document_requests(self) -> list[str]:
        return [r for r in self.requests if "mgConvert2PDF" in r]

    def service_requests(self, operation: str) -> list[str]:
        return [r for r in self.requests if f"/mgWebService.asmx/{operation}?" in r]

    # -- answers --------------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append(handler.path)
        self.agents.append(handler.headers.get("User-Agent", ""))
        parsed = urllib.parse.urlsplit(handler.path)
        query = {k.lower(): v for k, v in urllib.parse.parse_qsl(parsed.query)}
        path = parsed.path[len(self.prefix):] if parsed.path.startswith(self.prefix) else None
        if self.mode == "slow":
            time.sleep(self.slow_seconds)
        if self.mode == "403":
            return self._send(handler, 403, b"<html><body><h1>Access denied</h1></body></html>", "text/html")
        if self.mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", "https://www.example.org/democracy/")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        if path is None:
            return self._send(handler, 404, b"not found", "text/plain")
        if path.startswith("/mgWebService.asmx/"):
            if self.mode == "html":
                return self._send(handler, 200, b"<!DOCTYPE html>\r\n<html><head><title>Error</title></head><body>"
                                  b"<p>The web service is not available.</p></body></html>", "text/html")
            operation = path.rsplit("/", 1)[-1]
            answer = {"GetCommittees": self._committees, "GetMeetings": self._meetings,
                      "GetMeeting": self._meeting}.get(operation)
            if answer is None:
                return self._send(handler, 500, b"unknown operation", "text/plain")
            return self._send(handler, 200, answer(query).encode("utf-8"), "text/xml; charset=utf-8")
        if path == "/mgConvert2PDF.aspx":
            return self._document(handler, query.get("id", ""))
        return self._send(handler, 404, b"not found", "text/plain")

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _document(self, handler: BaseHTTPRequestHandler, attachment_id: str) -> None:
        doc = next((d for m in self.meetings.values() for i in m.items for d in i.docs
                    if d.attachment_id == attachment_id), None)
        if doc is None:
            return self._send(handler, 404, b"not found", "text/plain")
        if attachment_id in self.cut or attachment_id in self.cut_without_length:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/pdf")
            if attachment_id in self.cut:
                handler.send_header("Content-Length", str(len(doc.data)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(doc.data[:len(doc.data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return None
        return self._send(handler, 200, doc.data, "application/pdf")

    def _committees(self, query: dict) -> str:
        rows = "".join(f"""
  <committee>
    <committeeid>{cid}</committeeid>
    <committeetitle>{escape(title)}</committeetitle>
    <committeedeleted>False</committeedeleted>
    <committeeexpired>False</committeeexpired>
    <committeecategory>Decision Making Committees</committeecategory>
  </committee>""" for cid, title in self.committees.items())
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<committees>\n  <committeescount> {len(self.committees)}'
                f"</committeescount>{rows}\n</committees>\n")

    def _meetings(self, query: dict) -> str:
        cid = query.get("lcommitteeid", "")
        meetings = [m for m in self.meetings.values() if m.committee_id == cid]
        rows = "".join(f"""
      <meeting>
        <meetingid>{m.id}</meetingid>
        <meetingdate>{m.date:%d/%m/%Y}</meetingdate>
        <meetingstatus>{m.status}</meetingstatus>
        <meetingtime>10.00 am</meetingtime>
        <iswebcast>False</iswebcast>
      </meeting>""" for m in meetings)
        return f"""<?xml version="1.0" encoding="utf-8"?>
<getmeetings>
  <meetingscount> {len(meetings)}</meetingscount>
  <committeescount> 1</committeescount>
  <committee>
    <committeeid>{cid}</committeeid>
    <committeetitle>{escape(self.committees.get(cid, ""))}</committeetitle>
    <committeemeetingcount> {len(meetings)}</committeemeetingcount>
    <committeemeetings>{rows}
    </committeemeetings>
  </committee>
</getmeetings>
"""

    def _meeting(self, query: dict) -> str:
        m = self.meetings[query.get("lmeetingid", "")]
        committee = escape(self.committees[m.committee_id])
        items = []
        for n, item in enumerate(m.items, start=1):
            docs = "".join(f"""
        <linkeddoc>
          <attachmentid>{d.attachment_id}</attachmentid>
          <title>{escape(d.title)}</title>
          <isurl>False</isurl>
          <url>{self.url}/mgConvert2PDF.aspx?ID={d.attachment_id}</url>
          <isrestricted>{d.restricted}</isrestricted>
          <restrictionsRef>
          </restrictionsRef>
          <itemnum>1</itemnum>
          <publicationdate>{m.date - dt.timedelta(days=7):%d/%m/%Y}</publicationdate>
          <meetingdate>{m.date:%d/%m/%Y}</meetingdate>
          <committeetitle>{committee}</committeetitle>
          <isdecisionattachment>False</isdecisionattachment>
          <ownertitle>{escape(item.title)}</ownertitle>
        </linkeddoc>""" for d in item.docs)
            items.append(f"""
    <agendaitem>
      <agendaitemid>{9000 + n}</agendaitemid>
      <agendaitemtitle>{escape(item.title)}</agendaitemtitle>
      <agendatext>&lt;p&gt;{escape(item.title)}&lt;/p&gt;</agendatext>
      <agendaitemnumber>{n + 3}</agendaitemnumber>
      <agendaitemsubnumber>
      </agendaitemsubnumber>
      <fulldisplaynumberformat>{item.number}.</fulldisplaynumberformat>
      <isrestricted>{item.restricted}</isrestricted>
      <meetingdate>{m.date:%d/%m/%Y}</meetingdate>
      <linkeddocuments>{docs}
      </linkeddocuments>
    </agendaitem>""")
        return f"""<?xml version="1.0" encoding="utf-8"?>
<meeting>
  <meetingid>{m.id}</meetingid>
  <meetingdate>{m.date:%d/%m/%Y}</meetingdate>
  <meetingstatus>{m.status}</meetingstatus>
  <isdisplayallowed>True</isdisplayallowed>
  <meetingtime>10.00 am</meetingtime>
  <meetinglocation>Committee Room 1, Town Hall</meetinglocation>
  <agendapublished>True</agendapublished>
  <minutepublished>False</minutepublished>
  <agendaitems>{"".join(items)}
  </agendaitems>
</meeting>
"""
