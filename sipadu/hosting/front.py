"""The event-driven front of both portals: a slow or stalled client costs a connection,
never one of the threads that serve everybody else.

``sipadu serve`` stacks, per gunicorn worker process (see :mod:`sipadu.hosting.serve`)::

    uvicorn (one asyncio event loop, HTTP/1.1 by h11) + deadline_protocol
      -> Front              (this module: body pace, upload slots; ASGI)
        -> a2wsgi.WSGIMiddleware (a pool of threads running the Flask app) for small
           posts, a second pool for requests without a body (pages, downloads), and a
           third, of ``upload_slots`` threads, for uploads

A thread is taken only once a request can use it without waiting on its client:

- **Head**: the request line and headers must be complete within ``head_timeout``
  seconds of the connection opening (or of the previous response on a kept-alive
  connection), else the connection is closed. uvicorn has no such deadline of its own
  (its keep-alive timer is disarmed by any byte), so a head sent a byte at a time
  (slowloris) would hold the connection forever.
- **Small bodies** (up to ``small_body`` bytes: every form without files) are received
  whole, on the event loop, before the request reaches a thread.
- **Uploads** (larger bodies) first bring their first ``small_body`` bytes the same way,
  then wait, on the event loop, for one of ``upload_slots`` slots per worker, each with
  a thread of its own, so uploads never take the threads that serve forms. A request that
  finds no slot within ``upload_wait`` seconds gets a 503 with ``Retry-After``; so does
  the upload that has waited longest when ``upload_queue`` already wait and another
  comes (waiting costs an attacker nothing, so a queue kept full would otherwise refuse
  every real upload at once). An upload that waits cuts the slowest holder below
  ``contended_rate``, whose slot then passes to it. With a slot, the body streams to
  the WSGI app chunk by chunk as it arrives (uploads are encrypted while they arrive,
  in constant memory).
- **Pace**: every body must bring at least ``body_min_rate`` bytes per second of waiting
  for it, measured over each ``body_timeout`` seconds spent waiting (or the whole rest of
  the body, if less). A body that stalls for ``body_timeout`` seconds, or dribbles, is
  answered 408 and its connection closed; the WSGI app, if it had the request, sees the
  body end early (Werkzeug's ``ClientDisconnected``), so the upload it staged is
  discarded by the request's teardown. Only time spent waiting for the client counts:
  while the app is busy (key stretching, database writes) the client is held back by
  TCP flow control and is not to blame.
- **Bulkheads**: requests without a body (``GET``: pages, downloads) run on a pool of
  threads of their own, so a flood of form posts (wrong logins, junk reports, each
  answered quickly but without end) queues only behind itself: the safety guidance and
  every other page stay as fast as the CPU allows. Uploads run on threads of their
  own too: uploads paced just above the minimum (an attacker's, or a slow Tor
  circuit's) hold their slots for as long as they last, and would otherwise hold half
  the threads that forms need; posts waiting for a derivation slot (up to
  ``SIPADU_KDF_WAIT_MS``) then took the rest, and a real mailbox login queued behind
  the flood for over 5 s (benchmarks/hostile.py; docs/performance.md).
- **Early answers**: an answer given before the whole body arrived ("busy", or a page
  of the app marked ``X-Sipadu-Drain``: a refusal to one of our forms, such as an
  expired session) waits until the rest of the body is read and thrown away (at the
  body's pace, however long it takes): a browser reads the answer only once it has sent
  everything, and an unread rest would make the kernel reset the connection and destroy
  the page that keeps the typed text. Other early answers (a body without a form token: forged; not
  signed in) are sent at once and the rest is never read.
- A body without ``Content-Length`` (chunked) is refused with 411: browsers always send
  the length, and the WSGI bridge would otherwise see an empty body.

The client's address never passes this point (``scope["client"]`` is dropped), and
nothing here logs. The source of the defaults (sipadu/settings/config.py): Apache's
``mod_reqtimeout`` (``header=20-40,MinRate=500 body=20,MinRate=500``) and nginx's
``client_header_timeout``/``client_body_timeout``, made stricter for headers (a browser
sends them in one packet) and measured over windows for bodies, since a real Tor upload
runs at tens to hundreds of KB/s, far above 1 KiB/s.
"""

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from sipadu.web import stalled

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Header = tuple[bytes, bytes]
# (HTTP status, language code) -> (headers, body) of a complete page; see errors.py.
Pages = Callable[[int, str], tuple[list[Header], bytes]]

BAD_REQUEST, TOO_SLOW, LENGTH_REQUIRED, BUSY = 400, 408, 411, 503
WITH_BODY = {"POST", "PUT", "PATCH"}  # no browser sends a body with any other method
RETRY_AFTER_SECONDS = 60
CLOSE: Header = (b"connection", b"close")
DRAIN = b"x-sipadu-drain"  # the app's mark on an early answer worth draining for (formdata)
DISCONNECT: Message = {"type": "http.disconnect"}
TURN_AWAY_SECONDS = 2  # a connection past the cap, answered "busy", is closed after this
SETTLING_SECONDS = 1.0  # past the cap, an idle connection younger than this is not closed
CAP_STALLED_SECONDS = 2.0  # past the cap, a reader that took nothing this long is closed
EARLY_ANSWER_BYTES = 1024 * 1024  # an early answer held while the body drains, at most


@dataclass(frozen=True)
class Limits:
    """The front's numbers (sipadu/settings/config.py; README "Configuration")."""

    body_timeout: float  # seconds of waiting per pace window
    body_min_rate: int  # bytes per second of waiting
    small_body: int  # bytes received whole before a thread takes the request
    upload_slots: int  # larger bodies streamed to the app at once, per worker
    upload_queue: int  # uploads that may wait for a slot at once; another pushes the oldest out
    upload_wait: float  # seconds an upload may wait for a slot
    contended_rate: int  # bytes/s an upload must keep while others wait for its slot
    drain_bytes: int  # an early answer waits for at most this much unread body (drain)


def in_this_context(receive: Receive) -> Receive:
    """``receive``, always run in the context of the request's own task, whoever awaits it.

    The WSGI bridge (a2wsgi) reads a body from the app's thread, through
    ``run_coroutine_threadsafe``: the coroutine runs on the event loop, but in a copy of
    that thread's context, which holds Flask's application and request contexts. When
    uvicorn's ``receive`` resumes reading the socket there, asyncio registers the
    connection's reader callback with that context, and every later request on the
    connection started inside it: Flask found "its" application context already pushed
    and reused it, so those requests shared the upload's ``g``: one CSRF token for every
    visitor on the connection (their forms were refused), and one database session whose
    read transaction never ended (a message just sent was missing from the next page;
    tests/test_front.py). Here each ``receive`` runs in a task of its own, in the
    request's context, which holds no Flask context."""
    context = contextvars.copy_context()

    async def receive_here() -> Message:
        return await asyncio.create_task(receive(), context=context)  # type: ignore[arg-type]

    return receive_here


class TooSlow(Exception):
    """A request body fell below the minimum pace (or stopped)."""


CONTENDED_AFTER_SECONDS = 2.0  # an upload waits this long before the slowest is cut
MEASURED_SECONDS = 5.0  # a holder's pace is judged after this much waiting for it


class Pace:
    """Enforces a body's minimum pace. Each window is ``window`` seconds of *waiting* for
    the client; in each, at least ``min_rate * window`` bytes, or the rest of the body
    if that is less, must arrive."""

    def __init__(self, min_rate: int, window: float, length: int) -> None:
        self.quota = min_rate * window
        self.window = window
        self.remaining = length
        self.waited_total = 0.0  # seconds spent waiting for the client, in all
        self._waited = 0.0
        self._needed = min(self.quota, length)

    async def receive(self, receive: Receive) -> Message:
        """The client's next message (``http.request`` or ``http.disconnect``).
        Raises :class:`TooSlow` when a window ends short of its bytes."""
        while True:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.window - self._waited):
                    message = await receive()
            except TimeoutError:
                message = None
            self._waited += time.monotonic() - started
            self.waited_total += time.monotonic() - started
            if message is not None:
                received = len(message.get("body", b""))
                self.remaining -= received
                self._needed -= received
            if self._waited >= self.window or message is None:
                if self._needed > 0:
                    raise TooSlow
                self._waited = 0.0
                self._needed = min(self.quota, self.remaining)
            if message is not None:
                return message


class _NoMalformedRequestLines(logging.Filter):
    """uvicorn logs a warning for every malformed request (and answers it 400): a flood
    of junk bytes would write ~70 bytes of log per 10 sent, without end (found in
    review). Nothing in the line helps anyone; the 400 is still sent."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Invalid HTTP request received."


_QUIET = _NoMalformedRequestLines()


def deadline_protocol(
    head_seconds: float,
    send_seconds: float,
    max_connections: int,
    busy: bytes,
    contended_rate: int = 0,
) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol (h11) with two deadlines and a connection cap.

    - **Head**: a connection whose request line and headers are not complete
      ``head_seconds`` after it opened, or after its previous response, is closed.
    - **Send**: a connection whose client takes nothing of an answer for
      ``send_seconds`` (the write buffer stays full) is dropped. The thread producing
      the answer (a download) waits for the client while the buffer is full; without
      this, a reader that never reads would hold that thread forever. nginx's
      ``send_timeout`` (60 s, "between two successive write operations") is the model;
      since the buffer resumes only after ~48 KiB were taken, it is also a minimum
      reading pace of ~48 KiB per ``send_seconds``.
    - **Cap**: at most ``max_connections`` connections per worker. A connection past
      the cap closes, in this order of preference:

      1. the one that has waited longest for a request head (idle, or sending its head
         slowly), if for at least ``SETTLING_SECONDS``: idle connections never keep a
         person out, and a visitor's connection is not closed in the moment before its
         head arrives (over Tor, a circuit's round trip) by attackers reconnecting
         hundreds of times a second (review of issue 13);
      2. the one sending its request body most slowly, if it has brought fewer than
         ``contended_rate`` bytes per second since its body began (the rule of a
         contended upload slot, :meth:`_Exchange._cut_the_slowest`): ~1,000 bodies just
         above the minimum pace (1.3 MB/s in all) otherwise kept every newcomer out;
         holding the cap so costs ``max_connections`` times ``contended_rate``;
      3. the one whose reader has taken nothing of its answer for longest, if for at
         least ``CAP_STALLED_SECONDS``: clients that pipeline requests and never read
         the answers otherwise held the cap until ``send_seconds`` (review).

      Only when none qualifies does the newcomer get ``busy`` (a complete "busy, try
      again" response, with ``Retry-After``) and is closed. uvicorn's own cap
      (``limit_concurrency``) instead answers everyone a plain-English 503 for as long
      as an attacker keeps ~1,000 idle connections open."""
    idle: dict[H11Protocol, float] = {}  # awaiting a head since, oldest first (per worker)
    stalled_readers: dict[H11Protocol, float] = {}  # write buffer full since, oldest first
    logging.getLogger("uvicorn.error").addFilter(_QUIET)

    def close_longest_stalled(at_least: float) -> bool:
        """Close the connection whose reader has taken nothing for longest, if for at
        least ``at_least`` seconds; whether one was (:func:`sipadu.web.stalled.close_one`
        asks for it, on the event loop)."""
        now = asyncio.get_running_loop().time()
        for reader, since in stalled_readers.items():
            if now - since < at_least:
                return False  # the oldest first: none after it has waited longer
            if isinstance(reader, Deadlines):
                reader._send_expired()
                return True
        return False

    class Deadlines(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None
        _send_timer: asyncio.TimerHandle | None = None
        _turned_away = False
        _body_since: float | None = None  # when this request's body began to arrive
        _body_bytes = 0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            stalled.register(self.loop, close_longest_stalled)
            if len(self.connections) > max_connections and not self._make_room():
                self._turn_away(transport)
                return
            self._watch_head()

        def _make_room(self) -> bool:
            """Close one connection for this one (the cap's order above); False if none
            qualifies."""
            oldest = next(iter(idle.items()), None)
            if oldest is not None and self.loop.time() - oldest[1] >= SETTLING_SECONDS:
                idle.pop(oldest[0])
                oldest[0].transport.close()
                return True
            if (slowest := self._slowest_body()) is not None:
                slowest.transport.abort()
                return True
            return close_longest_stalled(CAP_STALLED_SECONDS)

        def _slowest_body(self) -> "Deadlines | None":
            """The connection whose body comes most slowly, if under ``contended_rate``
            (over at least a second: a body that has just begun is not judged)."""
            now = self.loop.time()
            slowest, lowest = None, float(contended_rate)
            for other in self.connections:
                if not isinstance(other, Deadlines) or other._body_since is None:
                    continue
                if other.conn.their_state is not h11.SEND_BODY:
                    continue
                rate = other._body_bytes / max(1.0, now - other._body_since)
                if rate < lowest and not other.transport.is_closing():
                    slowest, lowest = other, rate
            return slowest

        def _turn_away(self, transport: asyncio.Transport) -> None:
            # The answer, then our end of the connection (FIN), then, a moment later, the
            # close. Whatever the client sends meanwhile is read and dropped: closing
            # with unread bytes would reset the connection and lose the answer.
            self._turned_away = True
            transport.write(busy)
            if transport.can_write_eof():
                transport.write_eof()
            self.loop.call_later(TURN_AWAY_SECONDS, transport.close)

        def data_received(self, data: bytes) -> None:
            if self._turned_away:
                return
            super().data_received(data)
            if self.conn.their_state is h11.SEND_BODY:
                if self._body_since is None:
                    self._body_since, self._body_bytes = self.loop.time(), 0
                self._body_bytes += len(data)
            self._watch_head()

        def send_400_response(self, msg: str) -> None:
            # h11 refused the body's framing as it arrived (a bad or huge chunk size,
            # chunked with a Content-Length...) and uvicorn answers 400 and closes. The
            # app may be running for this request already (the front refuses chunked
            # bodies itself): its answer goes nowhere, quietly, instead of raising in
            # h11 and writing "Exception in ASGI application" for anyone who sends
            # such a request (issue 15, item 10).
            super().send_400_response(msg)
            if self.cycle is not None:
                self.cycle.disconnected = True

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._body_since = None
            self._watch_head()

        def pause_writing(self) -> None:
            super().pause_writing()
            stalled_readers.setdefault(self, self.loop.time())
            if self._send_timer is None:
                self._send_timer = self.loop.call_later(send_seconds, self._send_expired)

        def resume_writing(self) -> None:
            self._stop_send_timer()
            stalled_readers.pop(self, None)
            super().resume_writing()

        def connection_lost(self, exc: Exception | None) -> None:
            idle.pop(self, None)
            stalled_readers.pop(self, None)
            self._stop_head_timer()
            self._stop_send_timer()
            super().connection_lost(exc)

        def _watch_head(self) -> None:
            # h11 is IDLE on our peer's side exactly while a request's head is awaited.
            waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
            if waiting and self._head_timer is None:
                self._head_timer = self.loop.call_later(head_seconds, self._head_expired)
                idle[self] = self.loop.time()
            elif not waiting:
                self._stop_head_timer()
                idle.pop(self, None)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _stop_send_timer(self) -> None:
            if self._send_timer is not None:
                self._send_timer.cancel()
                self._send_timer = None

        def _head_expired(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def _send_expired(self) -> None:
            # abort, not close: close would wait to flush a buffer nobody reads. Losing
            # the connection marks the answer disconnected and resumes its waiting
            # sends, so the producing thread runs to its end without waiting again.
            self._stop_send_timer()
            stalled_readers.pop(self, None)
            self.transport.abort()

    return Deadlines


def raw_response(status: int, headers: list[Header], body: bytes) -> bytes:
    """A complete HTTP/1.1 response that closes its connection, as bytes (for answers
    given before uvicorn parses a request); ``status`` is one of this module's."""
    reason = {TOO_SLOW: "Request Timeout", LENGTH_REQUIRED: "Length Required"}
    head = [f"HTTP/1.1 {status} {reason.get(status, 'Service Unavailable')}".encode()]
    head += [name + b": " + value for name, value in headers if name != b"content-length"]
    head += [b"content-length: " + str(len(body)).encode(), b"connection: close"]
    if status == BUSY:
        head.append(b"retry-after: " + str(RETRY_AFTER_SECONDS).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _content_length(scope: Scope) -> tuple[int, bool]:
    """(Content-Length or 0, whether the body is chunked); h11 validated both."""
    length, chunked = 0, False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


def _language(scope: Scope) -> str:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang")
    return values[0] if values else ""


class Front:
    """ASGI middleware in front of the WSGI bridge; see the module docstring.

    ``pages(status, lang)`` gives the complete refusal pages (408, 411, 503) in the
    reader's language, rendered once by the portal (``errors.refusal_pages``).
    ``reads`` serves requests without a body, ``uploads`` requests with an upload slot
    (default for both: ``app``)."""

    def __init__(
        self,
        app: ASGIApp,
        limits: Limits,
        pages: Pages,
        reads: ASGIApp | None = None,
        uploads: ASGIApp | None = None,
    ) -> None:
        self.app = app
        self.reads = reads or app  # requests without a body
        self.uploads = uploads or app  # requests holding an upload slot
        self.limits = limits
        self.pages = pages
        self.free = limits.upload_slots  # upload slots nobody holds or was handed
        # Uploads waiting for a slot, oldest first; each future is resolved (True: a slot
        # was handed to it; False: pushed out of a full queue) when it leaves the queue.
        self.queue: dict[_Exchange, asyncio.Future[bool]] = {}
        self.holders: set[_Exchange] = set()  # uploads holding a slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "client": None}  # no client address beyond this point
        receive = in_this_context(receive)
        length, chunked = _content_length(scope)
        if chunked:
            await self.refuse(send, LENGTH_REQUIRED, scope)
        elif length and scope["method"] not in WITH_BODY:
            # A GET with a body would take an upload slot (or a form thread) for a
            # download whose reader never reads (found in review): refused, unread.
            await self.refuse(send, BAD_REQUEST, scope)
        elif length == 0:
            await self.reads(scope, receive, send)
        else:
            await _Exchange(self, scope, receive, send, length).run()

    def release(self, holder: "_Exchange") -> None:
        """``holder`` gives its slot up: to the upload that cut it, if that one still
        waits, else to the one that has waited longest, else back to the free slots. The
        hand-off matters: the oldest waiter is usually an attacker's, who keeps the queue
        full (found in review)."""
        to = holder.cut_for if holder.cut_for in self.queue else next(iter(self.queue), None)
        if to is None:
            self.free += 1
        else:
            self.queue.pop(to).set_result(True)

    async def refuse(self, send: Send, status: int, scope: Scope) -> None:
        headers, body = self.pages(status, _language(scope))
        headers = [*headers, CLOSE]  # the body was not read: the connection cannot go on
        if status == BUSY:
            headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
        except h11.LocalProtocolError:
            # The server answered first: the body's framing was malformed (a bad or huge
            # chunk size, chunked with a Content-Length), h11 refused it as it arrived and
            # uvicorn sent its own 400 and closed. Nothing of ours can follow, and there
            # is nothing to log: anyone can send such a request, as often as they like
            # (issue 15, item 10).
            return


class _Exchange:
    """One request with a body, from its first byte to the app's last answer."""

    def __init__(self, front: Front, scope: Scope, receive: Receive, send: Send, length: int):
        self.front, self.scope, self._receive, self._send = front, scope, receive, send
        limits = front.limits
        self.pace = Pace(limits.body_min_rate, limits.body_timeout, length)
        self.pending: bytes | None = None  # the first bytes, held for the app
        self.answered = False  # we answered ourselves; the app's answer goes nowhere
        self.response_started = False
        self.early: list[Message] | None = None  # an answer held until the body is drained
        self.early_bytes = 0
        self.cut = False  # too slow for a slot others wait for: answered 408 at next read
        self.cut_for: _Exchange | None = None  # the waiting upload that cut it gets its slot
        self._held_from = (0, 0.0)  # (bytes left, seconds waited) when the slot was taken

    async def run(self) -> None:
        front = self.front
        try:
            if await self._first_bytes():
                return  # the client left
        except TooSlow:
            await front.refuse(self._send, TOO_SLOW, self.scope)
            return
        if self.pace.remaining == 0:
            await front.app(self.scope, self.receive, self.send)
            return
        if not await self._upload_slot():
            await self.drain()
            await front.refuse(self._send, BUSY, self.scope)
            return
        self._held_from = (self.pace.remaining, self.pace.waited_total)
        front.holders.add(self)
        try:
            await front.uploads(self.scope, self.receive, self.send)
        finally:
            front.holders.discard(self)
            front.release(self)
        if self.early is not None:  # the app answered before the whole body came
            await self.drain()
            for message in self.early:
                await self._send(message)

    async def drain(self) -> None:
        """Read and discard the rest of the body before an early answer is sent.

        A browser sends the whole body before it reads the answer. Closing a connection
        with unread bytes makes the kernel reset it (RST), and the reset destroys the
        answer on its way: the reporter sees "connection reset" instead of the page that
        keeps their text ("busy", "session expired"). So, like nginx's lingering close
        and Apache's, the rest is read and thrown away, on the event loop (no thread, no
        memory), for as long as it keeps the body's pace (:class:`Pace`), and only if at
        most ``drain_bytes`` (the largest request the portal accepts) remain; a larger
        rest is not worth reading. There is no other time limit: a reply with a 45 MB file
        over Tor (15 minutes at 50 KiB/s) that arrives after its session ended is
        answered with the sign-in page that keeps its text, once the file is through;
        a fixed limit (60 s) reset those connections and lost the reply (issue 16, item
        4). A drained body holds a connection, never a thread or an upload slot, and
        costs its sender the same pace as any upload."""
        if self.pace.remaining > self.front.limits.drain_bytes:
            return
        try:
            while self.pace.remaining > 0:
                message = await self.pace.receive(self._receive)
                if message["type"] == "http.disconnect":
                    return
        except TooSlow:
            return

    async def _upload_slot(self) -> bool:
        """Wait for an upload slot (no thread is held meanwhile); False when no slot came
        within ``upload_wait`` or another upload pushed this one out of the full queue.

        A full queue (``upload_queue``) makes room: the upload that has waited longest is
        answered busy and this one takes its place. Waiters cost an attacker nothing (their
        bodies are not read while they wait), so refusing newcomers let 16 paced waiters
        keep every real upload out (found in review); now the attacker must keep sending
        new uploads, each with its first ``small_body`` bytes. After
        ``CONTENDED_AFTER_SECONDS`` of waiting, the slowest holder below
        ``contended_rate`` is cut (:meth:`_cut_the_slowest`) and hands its slot to this
        upload (:meth:`Front.release`)."""
        front = self.front
        if front.free > 0:
            front.free -= 1
            return True
        if len(front.queue) >= front.limits.upload_queue:
            if not front.queue:
                return False  # no queue at all
            oldest = next(iter(front.queue))
            front.queue.pop(oldest).set_result(False)
        front.queue[self] = slot = asyncio.get_running_loop().create_future()
        cut_one = False
        try:
            async with asyncio.timeout(front.limits.upload_wait):
                while not slot.done():
                    try:
                        async with asyncio.timeout(CONTENDED_AFTER_SECONDS):
                            await asyncio.shield(slot)  # a timeout leaves the slot's future
                    except TimeoutError:
                        cut_one = cut_one or self._cut_the_slowest()
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            if slot.done() and slot.result():
                front.release(self)  # handed a slot just as this request was cancelled
            raise
        finally:
            if not slot.done():
                del front.queue[self]
        return slot.done() and slot.result()

    def rate(self) -> float | None:
        """Bytes per second of waiting for the client since this upload took its slot;
        None until ``MEASURED_SECONDS`` of waiting were measured."""
        left, waited = self._held_from
        seconds = self.pace.waited_total - waited
        return (left - self.pace.remaining) / seconds if seconds >= MEASURED_SECONDS else None

    def _cut_the_slowest(self) -> bool:
        """Slots are scarce and an upload waits: the holder bringing the fewest bytes
        per second of waiting for it, if fewer than ``contended_rate``, is answered 408
        ("too slow") at its next read and gives its slot up. Without this, a few
        connections paced just above the minimum (1 KiB/s) held every slot for as long
        as they liked, and every real upload got the busy page (found in review). An
        attacker must now bring ``contended_rate`` per slot to keep them; an upload is
        cut only while someone waits for its slot. True if one was cut."""
        limit = self.front.limits.contended_rate
        rates = [(h.rate(), id(h), h) for h in self.front.holders if not h.cut]
        slow = [(rate, key, h) for rate, key, h in rates if rate is not None and rate < limit]
        if not slow:
            return False
        slowest = min(slow)[2]
        slowest.cut, slowest.cut_for = True, self
        return True

    async def _first_bytes(self) -> bool:
        """Receive up to ``small_body`` bytes (the whole of a small body) without a
        thread; True if the client disconnected meanwhile."""
        chunks: list[bytes] = []
        size = 0
        while self.pace.remaining > 0 and size < self.front.limits.small_body:
            message = await self.pace.receive(self._receive)
            if message["type"] == "http.disconnect":
                return True
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
        self.pending = b"".join(chunks)
        return False

    async def receive(self) -> Message:
        """The app's ``receive``: the first bytes, then the rest of the body at pace."""
        if self.pending is not None:
            body, self.pending = self.pending, None
            return {"type": "http.request", "body": body, "more_body": self.pace.remaining > 0}
        if self.answered:
            return DISCONNECT
        if self.pace.remaining <= 0:  # the body is complete: only a disconnect can follow
            return await self._receive()
        try:
            if self.cut:
                raise TooSlow
            return await self.pace.receive(self._receive)
        except TooSlow:
            if not self.response_started:
                self.answered = True
                await self.front.refuse(self._send, TOO_SLOW, self.scope)
            return DISCONNECT

    async def send(self, message: Message) -> None:
        """The app's ``send``. An answer given before the whole body arrived (413, or a
        refusal) closes the connection after it; it is held (up to ``EARLY_ANSWER_BYTES``)
        until :meth:`drain` has read the rest of the body, once the app is done."""
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
            headers = [h for h in message.get("headers", []) if h[0] != DRAIN]
            worth_draining = len(headers) < len(message.get("headers", []))
            message = {**message, "headers": headers}
            if self.pace.remaining > 0:
                message["headers"] = [*headers, CLOSE]
                if worth_draining:
                    self.early = []
        if self.early is not None:
            self.early.append(message)
            self.early_bytes += len(message.get("body", b""))
            if self.early_bytes <= EARLY_ANSWER_BYTES:
                return
            for held in self.early:  # not a refusal page: send it as it comes, undrained
                await self._send(held)
            self.early = None
            return
        await self._send(message)
