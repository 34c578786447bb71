"""A TCP proxy in front of the test PostgreSQL that fails the way networks fail.

Each "machine" in a test connects through a proxy of its own, so one can go silent alone:

- `blackhole()`: stop forwarding both ways and close nothing. Neither end sees FIN or RST (a
  half-open connection, as when a machine loses power or its network); new connections are
  accepted and then left silent too. `heal()` lets everything held flow again.
- `reset()`: end every current connection with an RST to the client (SO_LINGER 0); PostgreSQL
  sees its client go.
- `on_statement(fragment, nth=…, action=…, when=…)`: when a statement whose SQL contains
  `fragment` passes for the `nth` time, reset or black-hole the connection carrying it (or the
  whole machine), either before the message is forwarded or right after the statement ran (the
  server's ReadyForQuery for it is held back from the client), e.g. "the write lock was taken,
  then the machine went silent", or "the commit happened and its answer was lost".

The proxy reads the frontend protocol: start-up messages first (SSLRequest, StartupMessage),
then messages of one type byte and an int32 length. `Q` (simple query) carries SQL text; `P`
(parse) names a statement and carries its SQL; `B` (bind) names a portal and the statement;
`E` (execute) names the portal. asyncpg parses a statement once per connection and afterwards only
binds it by name, so executions are counted at `E` through the names learned from `P` and `B`.

PostgreSQL's own TCP keepalives see nothing wrong behind this proxy: its kernel answers their
probes. Server-side timeouts (idle in transaction, statement) and client-side ones still apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

Action = Literal["reset", "blackhole"]
When = Literal["before", "after"]
Scope = Literal["connection", "machine"]

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102
_CHUNK = 65536
_PROTOCOL_3 = struct.pack("!i", 3 << 16)
_ENCRYPTION_REQUESTS = (struct.pack("!i", _SSL_REQUEST), struct.pack("!i", _GSSENC_REQUEST))


@dataclass
class Trigger:
    """Act when a statement containing `fragment` passes for the `nth` time (counted over every
    connection of the proxy); `fired` is set when it has acted."""

    fragment: str
    nth: int
    action: Action
    when: When
    scope: Scope
    seen: int = 0
    fired: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, sql: str) -> bool:
        """Count one passing statement; return whether this is the one to act on."""
        if self.fired.is_set() or self.fragment not in sql:
            return False
        self.seen += 1
        return self.seen == self.nth


class _FrontendParser:
    """Split what a client sends into whole protocol messages (kind, raw bytes); kind is "" for
    the start-up messages, which carry no type byte. After anything it cannot read (TLS, once the
    server agreed to it) it passes the rest through unread."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._startup = True
        self.opaque = False

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self._buffer += data
        if self.opaque:
            return [("", self._take_all())]
        messages: list[tuple[str, bytes]] = []
        while True:
            if self._startup:
                if len(self._buffer) < 8:
                    break
                (length,) = struct.unpack_from("!i", self._buffer, 0)
                if not 8 <= length <= 1 << 20:  # not a start-up message: TLS or garbage
                    return [*messages, ("", self._take_all())]
                if len(self._buffer) < length:
                    break
                (code,) = struct.unpack_from("!i", self._buffer, 4)
                raw = self._take(length)
                messages.append(("", raw))
                if code == _CANCEL_REQUEST:
                    self.opaque = True
                elif code not in (_SSL_REQUEST, _GSSENC_REQUEST):
                    self._startup = False
            else:
                if len(self._buffer) < 5:
                    break
                (length,) = struct.unpack_from("!i", self._buffer, 1)
                if len(self._buffer) < 1 + length:
                    break
                kind = chr(self._buffer[0])
                messages.append((kind, self._take(1 + length)))
        return messages

    def encrypted(self) -> None:
        """The server agreed to TLS: nothing more can be read."""
        self.opaque = True

    def _take(self, size: int) -> bytes:
        raw = bytes(self._buffer[:size])
        del self._buffer[:size]
        return raw

    def _take_all(self) -> bytes:
        self.opaque = True
        raw = bytes(self._buffer)
        self._buffer.clear()
        return raw


class _BackendParser:
    """Split what the server sends into whole messages (kind, raw bytes): the one-byte answer to
    an SSLRequest when one is due (kind "ssl"), then type byte and int32 length each."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.ssl_answer_due = False
        self.opaque = False

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        self._buffer += data
        messages: list[tuple[str, bytes]] = []
        while self._buffer:
            if self.opaque:
                messages.append(("", bytes(self._buffer)))
                self._buffer.clear()
                break
            if self.ssl_answer_due:
                self.ssl_answer_due = False
                answer = bytes(self._buffer[:1])
                del self._buffer[:1]
                self.opaque = answer == b"S"
                messages.append(("ssl", answer))
                continue
            if len(self._buffer) < 5:
                break
            (length,) = struct.unpack_from("!i", self._buffer, 1)
            if len(self._buffer) < 1 + length:
                break
            messages.append((chr(self._buffer[0]), bytes(self._buffer[: 1 + length])))
            del self._buffer[: 1 + length]
        return messages


def _cstrings(body: bytes, count: int) -> list[str]:
    """The first `count` NUL-terminated strings of a message body."""
    parts = body.split(b"\0", count)
    return [part.decode("utf-8", "replace") for part in parts[:count]]


class ProxiedConnection:
    """One client connection and its upstream twin."""

    def __init__(self, proxy: PgProxy, client: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self._client = client
        self._upstream: asyncio.StreamWriter | None = None
        self._flowing = asyncio.Event()
        self.closed = False
        self._statements: dict[str, str] = {}  # statement name → SQL, from `P`
        self._portals: dict[str, str] = {}  # portal name → SQL, from `B`
        self._after: list[Trigger] = []  # to act on once the statement has run
        self._parser = _FrontendParser()
        self._backend = _BackendParser()
        self.startup: dict[str, str] = {}  # the StartupMessage's parameters (user, settings…)
        # Each `Q` and each `S` (Sync) gets one ReadyForQuery (`Z`) back, after the one that ends
        # the start-up; a trigger "after" waits for the `Z` of the statement's own sync point.
        self._syncs_sent = 0
        self._ready_seen = -1
        self._awaiting: list[tuple[int, Trigger]] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def blackholed(self) -> bool:
        return not self.closed and not self._flowing.is_set()

    def blackhole(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    def reset(self) -> None:
        """RST to the client; the server sees its client leave."""
        self._end(rst=True)

    def _end(self, *, rst: bool) -> None:
        """Close both ends: with an RST to the client (a reset), or as a socket closes."""
        if self.closed:
            return
        self.closed = True
        self._flowing.set()  # wakes whatever waited for a silence to end: it sees `closed`
        _close(self._client, rst=rst)
        if self._upstream is not None:
            _close(self._upstream, rst=False)
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def run(self, reader: asyncio.StreamReader) -> None:
        """Connect upstream (once flowing) and pump both ways until either end leaves."""
        await self._flowing.wait()  # a silent machine does not reach the server either
        if self.closed:
            return
        try:
            up_reader, self._upstream = await self.proxy.open_upstream()
        except OSError:
            self.reset()
            return
        _flush_fully(self._upstream)
        _flush_fully(self._client)
        self._tasks = [
            asyncio.create_task(self._pump_up(reader)),
            asyncio.create_task(self._pump_down(up_reader)),
        ]
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._end(rst=False)

    async def _pump_up(self, reader: asyncio.StreamReader) -> None:
        while True:
            data = await reader.read(_CHUNK)
            await self._flowing.wait()  # held while silent, even the client's leaving
            if not data or self.closed:
                break
            for kind, raw in self._parser.feed(data):
                await self._pass_up(kind, raw)
                if self.closed:
                    return
        self._end(rst=False)  # the client left: the server sees its socket close

    async def _pass_up(self, kind: str, raw: bytes) -> None:
        assert self._upstream is not None
        now = self._match(kind, raw)
        for trigger in (t for t in now if t.when == "before"):
            await self._act(trigger)
        if self.closed:
            return
        await self._flowing.wait()
        if self.closed:
            return
        if kind == "" and len(raw) == 8 and raw[4:] in _ENCRYPTION_REQUESTS:
            self._backend.ssl_answer_due = True
        elif kind == "" and raw[4:8] == _PROTOCOL_3:
            words = raw[8:].split(b"\0")
            pairs = zip(words[0::2], words[1::2], strict=False)
            self.startup = {k.decode(): v.decode("utf-8", "replace") for k, v in pairs if k}
        self._after += [t for t in now if t.when == "after"]
        if kind in ("Q", "S"):
            self._syncs_sent += 1
            self._awaiting += [(self._syncs_sent, t) for t in self._after]
            self._after = []
        self._upstream.write(raw)
        await self._upstream.drain()

    def _match(self, kind: str, raw: bytes) -> list[Trigger]:
        """Learn statement names; return the triggers this message sets off."""
        body = raw[5:]
        sql: str | None = None
        if kind == "Q":
            sql = _cstrings(body, 1)[0]
        elif kind == "P":
            name, text = _cstrings(body, 2)
            self._statements[name] = text
        elif kind == "B":
            portal, name = _cstrings(body, 2)
            self._portals[portal] = self._statements.get(name, "")
        elif kind == "E":
            sql = self._portals.get(_cstrings(body, 1)[0], "")
        if sql is None:
            return []
        return [t for t in self.proxy.triggers if t.matches(sql)]

    async def _act(self, trigger: Trigger) -> None:
        if trigger.action == "reset":
            if trigger.scope == "machine":
                self.proxy.reset()
            else:
                self.reset()
        elif trigger.scope == "machine":
            self.proxy.blackhole()
        else:
            self.blackhole()
        trigger.fired.set()

    async def _pump_down(self, reader: asyncio.StreamReader) -> None:
        while True:
            data = await reader.read(_CHUNK)
            await self._flowing.wait()
            if not data or self.closed:
                break
            batch = bytearray()
            for kind, raw in self._backend.feed(data):
                if kind == "ssl" and raw == b"S":  # TLS agreed: the rest is unreadable here
                    self._parser.encrypted()
                if kind == "Z" and await self._ran(bytes(batch)):
                    batch.clear()
                    await self._flowing.wait()
                    if self.closed:
                        return
                batch += raw
            self._client.write(batch)
            await self._client.drain()
        self._end(rst=False)  # the server closed (after its last words): so does the client's end

    async def _ran(self, before: bytes) -> bool:
        """A statement's sync point came back: act on the triggers waiting for it, before its
        answer reaches the client (what came before it, `before`, does). Return whether any."""
        self._ready_seen += 1
        due = [t for n, t in self._awaiting if n == self._ready_seen]
        if not due:
            return False
        self._awaiting = [(n, t) for n, t in self._awaiting if n != self._ready_seen]
        self._client.write(before)
        await self._client.drain()
        for trigger in due:
            await self._act(trigger)
        return True


def _flush_fully(writer: asyncio.StreamWriter) -> None:
    """Make drain() wait until the kernel has every byte, so an act "after" follows delivery."""
    transport = writer.transport
    assert isinstance(transport, asyncio.WriteTransport)
    transport.set_write_buffer_limits(high=0)


def _close(writer: asyncio.StreamWriter, *, rst: bool) -> None:
    sock = writer.get_extra_info("socket")
    if rst and sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


class PgProxy:
    """Listens on 127.0.0.1 and forwards to the PostgreSQL server at `upstream_url`."""

    def __init__(self, upstream_url: str) -> None:
        self.upstream_url = upstream_url
        self.triggers: list[Trigger] = []
        self.connections: list[ProxiedConnection] = []
        self._silent = False
        self._server: asyncio.Server | None = None
        self._runs: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The upstream URL with this proxy as its host (same user, database and search_path)."""
        parts = urlsplit(self.upstream_url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port")]
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{self.port}" if userinfo else f"127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))

    @property
    def open_connections(self) -> list[ProxiedConnection]:
        return [c for c in self.connections if not c.closed]

    @property
    def blackholed_connections(self) -> list[ProxiedConnection]:
        return [c for c in self.connections if c.blackholed]

    async def start(self, port: int = 0) -> PgProxy:
        """Listen (on `port`, else on any free one)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in self.connections:
            connection.reset()  # their pumps end, and with them the servers' handlers
        if self._runs:
            await asyncio.wait(self._runs, timeout=5.0)
        if self._server is not None:
            await self._server.wait_closed()

    def blackhole(self) -> None:
        """Go silent: nothing passes either way, nothing is closed, new connections hang."""
        self._silent = True
        for connection in self.connections:
            connection.blackhole()

    def heal(self) -> None:
        self._silent = False
        for connection in self.connections:
            connection.heal()

    def reset(self) -> None:
        """End every current connection with an RST to its client."""
        for connection in self.connections:
            connection.reset()

    def on_statement(
        self,
        fragment: str,
        *,
        nth: int = 1,
        action: Action = "reset",
        when: When = "before",
        scope: Scope = "connection",
    ) -> Trigger:
        """Act on the connection (or the whole machine) carrying the `nth` statement whose SQL
        contains `fragment`, before forwarding it or right after it ran."""
        trigger = Trigger(fragment, nth, action, when, scope)
        self.triggers.append(trigger)
        return trigger

    async def open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        parts = urlsplit(self.upstream_url)
        query = dict(parse_qsl(parts.query))
        host = query.get("host") or parts.hostname or "localhost"
        port = int(query.get("port") or parts.port or 5432)
        if host.startswith("/"):
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = ProxiedConnection(self, writer)
        if not self._silent:
            connection.heal()
        self.connections.append(connection)
        task = asyncio.current_task()
        assert task is not None
        self._runs.add(task)
        try:
            await connection.run(reader)
        finally:
            self._runs.discard(task)


ProxyFactory = Callable[[str], Awaitable[PgProxy]]
