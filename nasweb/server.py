"""Daphne with the request gate before the body and bounded memory for any body.

Run it as Daphne: ``python -m nasweb.server -b 127.0.0.1 -p 8000 nasweb.asgi:application``
(same options). Two things differ from plain Daphne:

- **The gate runs on the headers** (``GatedRequest.gotLength``): Twisted would otherwise
  receive the whole body (into a temporary file) before the application is started. Reading is
  paused while ``nasweb.gate.check`` decides; a refused request is answered at once (a client
  that sent ``Expect: 100-continue`` never sends its body), the connection closes, and whatever
  body still arrives is discarded, not stored. A chunked body is cut off at the limit as it
  arrives.
- **Twisted does not parse multipart bodies**: plain Twisted reads a whole multipart POST into
  memory and splits it into ``request.args`` (about 12x the body at peak), which Daphne never
  uses; here Django parses it, from disk.
- **The body reaches the application on demand** (``SpooledBodyQueue``): Daphne pushes every
  chunk of the body into an unbounded in-memory queue at once (a 600 MB upload held 600 MB of
  chunks); here the queue only remembers how much there is and reads each chunk from Twisted's
  spool file when the application asks for it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server

log = logging.getLogger(__name__)

#: How many bytes one ``http.request`` message carries to the application.
BODY_CHUNK = 64 * 1024
#: How long a refused connection keeps discarding the body before it is cut (seconds).
LINGER_SECONDS = 5.0


def _asgi_headers(request: WebRequest) -> list[tuple[bytes, bytes]]:
    return [(name.lower(), value) for name, values in request.requestHeaders.getAllRawHeaders()
            for value in values if b"_" not in name]


class GatedRequest(WebRequest):
    """Daphne's request, with the gate on the headers and a limit on a streamed body."""

    refused = False
    _gate_pending = False
    _process_waiting = False
    _received = 0
    _limit: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Twisted would read a whole multipart body into memory and parse it into request.args
        # (about 12x the body at peak), which Daphne never uses: Django parses it from disk.
        self._parsePOSTFormSubmission = False

    def gotLength(self, length: int | None) -> None:  # noqa: N802 - Twisted's name
        super().gotLength(length)
        from nasweb import gate

        # method and path are set on the request only once the body is in; the channel has them
        method = (getattr(self.channel, "_command", b"") or b"GET").decode("ascii", "replace")
        target = (getattr(self.channel, "_path", b"") or b"/").split(b"?", 1)[0]
        from urllib.parse import unquote

        path = unquote(target.decode("ascii", "replace"))
        self._method_text = method
        self._limit = gate.body_limit(path)
        if self.requestHeaders.hasHeader(b"upgrade"):
            return  # websocket handshakes carry no body
        headers = _asgi_headers(self)
        refusal, needs_user = gate.check_headers(method, path, headers)
        if refusal is not None:
            self._refuse(refusal)
            return
        if needs_user:
            self._gate_pending = True
            self.channel.transport.pauseProducing()
            future = asyncio.ensure_future(
                gate.check(method, path, headers))
            future.add_done_callback(self._gate_done)

    def _gate_done(self, future: asyncio.Future) -> None:
        self._gate_pending = False
        if self.channel is None or self.channel.transport is None:
            return
        try:
            refusal = future.result()
        except Exception:  # noqa: BLE001 - a broken database: let Django answer (500 there)
            log.warning("request gate failed", exc_info=True)
            refusal = None
        if refusal is not None:
            self._refuse(refusal)
        self.channel.transport.resumeProducing()
        if self._process_waiting:
            self._process_waiting = False
            self.process()

    def _refuse(self, refusal: Any) -> None:
        """Answer now, before the body, and close; the rest of the body is discarded."""
        if self.refused:
            return
        self.refused = True
        self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after this answer
        transport = self.channel.transport
        reason = {400: b"Bad Request", 403: b"Forbidden", 404: b"Not Found",
                  405: b"Method Not Allowed", 413: b"Content Too Large"}.get(refusal.status,
                                                                           b"Refused")
        head = [b"HTTP/1.1 %d %s" % (refusal.status, reason)]
        head += [name + b": " + value for name, value in refusal.headers()]
        transport.write(b"\r\n".join(head) + b"\r\n\r\n" + refusal.body())
        log.info("refused %s before its body: %d", self._method_text, refusal.status)
        if self.content is not None:
            self.content.close()
            self.content = None
        from twisted.internet import reactor

        reactor.callLater(LINGER_SECONDS, self._cut)

    def _cut(self) -> None:
        channel = getattr(self, "channel", None)
        if channel is not None and channel.transport is not None:
            channel.transport.abortConnection()

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802 - Twisted's name
        if self.refused:
            return
        self._received += len(data)
        if self._limit is not None and self._received > self._limit:
            from nasweb import gate

            self._refuse(gate.BodyTooLarge(self._limit).refusal)
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:  # noqa: N802
        if self.refused:
            self.channel.transport.loseConnection()
            return
        super().requestReceived(command, path, version)

    def process(self) -> Any:
        if self.refused:
            return None
        if self._gate_pending:  # the whole body arrived before the gate answered
            self._process_waiting = True
            return None
        return super().process()


class SpooledBodyQueue:
    """An application's input queue that reads body chunks from the request's spool file
    when asked, instead of holding them all in memory."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol
        self.others: asyncio.Queue = asyncio.Queue()
        self.length = 0
        self.offset = 0
        self.complete = asyncio.Event()
        self.body_done = False

    def put_nowait(self, message: dict[str, Any]) -> None:
        if message.get("type") == "http.request" and not self.body_done:
            self.length += len(message.get("body") or b"")
            if not message.get("more_body", False):
                self.complete.set()
            return
        self.others.put_nowait(message)

    async def get(self) -> dict[str, Any]:
        if not self.body_done:
            await self.complete.wait()
            content = getattr(self.protocol, "content", None)
            if content is None or content.closed:
                self.body_done = True
                return {"type": "http.disconnect"}
            content.seek(self.offset)
            chunk = content.read(min(BODY_CHUNK, self.length - self.offset))
            self.offset += len(chunk)
            more = bool(chunk) and self.offset < self.length
            if not more:
                self.body_done = True
            return {"type": "http.request", "body": chunk, "more_body": more}
        return await self.others.get()


class GatedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:  # noqa: N802 - Twisted's name
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = GatedRequest
        return protocol


class GatedServer(Server):
    """Daphne's server with ``GatedRequest`` and ``SpooledBodyQueue`` for HTTP."""

    @property
    def http_factory(self) -> Any:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: Any) -> None:
        # Server.run() builds Daphne's factory; serve with the gated one instead.
        self._http_factory = GatedHTTPFactory(self) if type(factory) is HTTPFactory else factory

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        if scope.get("type") != "http":
            return super().create_application(protocol, scope)
        assert "application_instance" not in self.connections[protocol]
        queue = SpooledBodyQueue(protocol)
        scope.setdefault("asgi", {"version": "3.0"})
        from functools import partial

        instance = self.application(scope=scope, receive=queue.get,
                                    send=partial(self.handle_reply, protocol))
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            instance, loop=asyncio.get_event_loop())
        return queue


class GatedCommandLine(CommandLineInterface):
    server_class = GatedServer


def main(argv: list[str] | None = None) -> None:
    GatedCommandLine().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
