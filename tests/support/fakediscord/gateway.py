"""The fake gateway: Discord's v10 websocket protocol, as much of it as discord.py uses.

HELLO (op 10) on connect; IDENTIFY (op 2) gets READY (guilds unavailable) then GUILD_CREATE;
RESUME (op 6) of a known session gets RESUMED, of an unknown one INVALID_SESSION (op 9);
HEARTBEAT (op 1) gets an ACK (op 11) a few ms later (an instant ACK on loopback makes discord.py
warn that it "can't keep up"). With `compress=zlib-stream` every frame is compressed with one
zlib context per connection and flushed with Z_SYNC_FLUSH, as Discord does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

HELLO, HEARTBEAT, IDENTIFY, RESUME, INVALID_SESSION, HEARTBEAT_ACK, DISPATCH = 10, 1, 2, 6, 9, 11, 0
HEARTBEAT_INTERVAL_MS = 41_250
ACK_DELAY = 0.005


@dataclass
class Session:
    id: str
    seq: int = 0


@dataclass
class Connection:
    """One websocket; `session` is set once it identified or resumed."""

    ws: web.WebSocketResponse
    compressor: Any | None  # zlib compress object, for zlib-stream
    session: Session | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        async with self.lock:
            if self.ws.closed:
                return
            if self.compressor is None:
                await self.ws.send_str(text)
            else:
                data = self.compressor.compress(text.encode())
                await self.ws.send_bytes(data + self.compressor.flush(zlib.Z_SYNC_FLUSH))


class Gateway:
    """Serves `/gateway`; `ready_payloads` builds READY and GUILD_CREATE for a new session."""

    def __init__(
        self,
        ready_payloads: Callable[[Session, str], list[tuple[str, dict[str, Any]]]],
        on_change: Callable[[], None],
    ) -> None:
        self._ready_payloads = ready_payloads
        self._on_change = on_change
        self.url = ""  # set by the server once it listens
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.identifies = 0
        self.resumes = 0
        self.ready_count = 0  # READY + GUILD_CREATE sent, or RESUMED
        self.received: list[dict[str, Any]] = []  # every op the client sent (tokens redacted)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def live(self) -> list[Connection]:
        return [c for c in self.connections if c.session is not None and not c.ws.closed]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        zlib_stream = request.query.get("compress") == "zlib-stream"
        conn = Connection(ws, zlib.compressobj() if zlib_stream else None)
        self.connections.append(conn)
        try:
            await conn.send(
                {
                    "op": HELLO,
                    "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS},
                    "s": None,
                    "t": None,
                }
            )
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                await self._received(conn, json.loads(message.data))
        finally:
            self.connections.remove(conn)
            self._on_change()
        return ws

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in list(self.connections):
            await conn.ws.close(code=1001)

    async def _received(self, conn: Connection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        self.received.append({"op": op, "d": _redacted(data)})
        if op == HEARTBEAT:
            self._spawn(self._ack_later(conn))
        elif op == IDENTIFY:
            self.identifies += 1
            session = Session(secrets.token_hex(16))
            self.sessions[session.id] = session
            conn.session = session
            for event, body in self._ready_payloads(session, self.url):
                await self._send_event(conn, event, body)
            self.ready_count += 1
        elif op == RESUME:
            session = self.sessions.get(data.get("session_id")) if isinstance(data, dict) else None
            if session is None:
                await conn.send({"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            else:
                self.resumes += 1
                conn.session = session
                await self._send_event(conn, "RESUMED", {})
                self.ready_count += 1
        self._on_change()

    async def _ack_later(self, conn: Connection) -> None:
        await asyncio.sleep(ACK_DELAY)
        await conn.send({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})

    async def _send_event(self, conn: Connection, event: str, data: dict[str, Any]) -> None:
        assert conn.session is not None
        conn.session.seq += 1
        await conn.send({"op": DISPATCH, "t": event, "s": conn.session.seq, "d": data})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every identified connection (there is normally one)."""
        live = self.live
        if not live:
            raise RuntimeError(f"no bot is connected to receive {event}")
        for conn in live:
            await self._send_event(conn, event, data)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _redacted(data: Any) -> Any:
    if isinstance(data, dict) and "token" in data:
        return {**data, "token": "<redacted>"}
    return data
