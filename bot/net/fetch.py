"""One bounded HTTP fetch: at most so many bytes, within so many seconds, redirects as asked.

Every download the bot makes goes through here with its own `Bounds`: a member's attachment or
input URL (to memory), a finished video from the provider (to a file, no redirects) or from
Discord's copy of the post (to a file). A body over the cap is refused as soon as it is known
(from Content-Length, else while streaming), and a file is written beside its target and moved
into place only when whole, so a refused or broken download leaves nothing behind.

`fetch` is one GET. A caller with its own retry loop (the DashScope client) sends the request
itself with `Bounds.request_options()` and reads the answer with `read_body`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, overload

import aiohttp

CHUNK_BYTES = 256 * 1024

# The HTTP session the process opens once and every fetch and client shares. Named here, so that
# a floor that only hands it on (the cogs, to the intake) does not import the HTTP library.
Session: TypeAlias = aiohttp.ClientSession


@dataclass(frozen=True)
class Bounds:
    """How much, how long and where from a download may come."""

    max_bytes: int
    seconds: float  # for the whole download, answer and body
    follow_redirects: bool = True
    connect: float | None = None  # finer limits within `seconds`, when wanted
    sock_read: float | None = None

    def request_options(self) -> dict[str, Any]:
        """The aiohttp request options that enforce the time and redirect bounds."""
        return {
            "timeout": aiohttp.ClientTimeout(
                total=self.seconds, connect=self.connect, sock_read=self.sock_read
            ),
            "allow_redirects": self.follow_redirects,
        }


class TooLarge(Exception):
    """The body is larger than the bound allows."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the body is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class FetchFailed(Exception):
    """No usable answer: `reason` is "HTTP <status>" (a redirect not followed is one) or the kind
    of network failure ("TimeoutError", "ClientConnectorError", …)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@overload
async def fetch(session: aiohttp.ClientSession, url: str, bounds: Bounds) -> bytes: ...
@overload
async def fetch(session: aiohttp.ClientSession, url: str, bounds: Bounds, *, to: Path) -> int: ...
async def fetch(
    session: aiohttp.ClientSession, url: str, bounds: Bounds, *, to: Path | None = None
) -> bytes | int:
    """GET `url` within `bounds`: its body, or with `to` the size written there. Raise TooLarge
    or FetchFailed (any answer but 200, or no answer)."""
    try:
        async with session.get(url, **bounds.request_options()) as response:
            if response.status != 200:
                raise FetchFailed(f"HTTP {response.status}", response.status)
            if to is None:
                return await read_body(response, bounds.max_bytes)
            return await read_body(response, bounds.max_bytes, to=to)
    except (aiohttp.ClientError, TimeoutError) as failure:
        raise FetchFailed(type(failure).__name__) from None


@overload
async def read_body(
    response: aiohttp.ClientResponse, max_bytes: int, *, chunk_bytes: int = ...
) -> bytes: ...
@overload
async def read_body(
    response: aiohttp.ClientResponse, max_bytes: int, *, to: Path, chunk_bytes: int = ...
) -> int: ...
async def read_body(
    response: aiohttp.ClientResponse,
    max_bytes: int,
    *,
    to: Path | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> bytes | int:
    """Read the body of `response`, at most `max_bytes` (else TooLarge): to memory, or to `to`
    (written whole or not at all; returns its size)."""
    if (response.content_length or 0) > max_bytes:
        raise TooLarge(max_bytes)
    if to is None:
        return b"".join([chunk async for chunk in _chunks(response, max_bytes, chunk_bytes)])
    partial = to.with_name(to.name + ".part")
    size = 0
    try:
        with partial.open("wb") as out:
            async for chunk in _chunks(response, max_bytes, chunk_bytes):
                out.write(chunk)
                size += len(chunk)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(to)
    return size


async def _chunks(
    response: aiohttp.ClientResponse, max_bytes: int, chunk_bytes: int
) -> AsyncIterator[bytes]:
    # iter_chunked waits for each chunk; content.read(n) would return only what is buffered.
    size = 0
    async for chunk in response.content.iter_chunked(chunk_bytes):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(max_bytes)
        yield chunk
