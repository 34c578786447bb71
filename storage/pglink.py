"""How wanbot connects to PostgreSQL: the limits every connection carries, the URL read the way
asyncpg will read it, and errors that never show the password.

Every connection is opened by `open_connection`, with `LinkLimits`: a machine that goes silent
inside a write transaction loses it (and the write lock) after `idle_in_transaction_seconds`,
while the others' writes wait for the lock up to `lock_seconds`, longer than that; every call
this process makes gives up after `command_seconds`. Server-side TCP keepalives and
`tcp_user_timeout` end a silent client's session (and its session advisory locks) only over real
TCP: they do nothing on a unix socket, nor behind a proxy whose own kernel answers the probes.
A silent scheduler is deposed by its lease on the database's clock, not by these.

The password is never glued into a URL: it comes percent-encoded inside the URL, as `password`
beside it, or from libpq's PGPASSWORD / PGPASSFILE (asyncpg reads them when neither is given).
Errors opening the database name the server, never the password (`DatabaseUrlError`,
`DatabaseUnreachable`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncpg


@dataclass(frozen=True)
class LinkLimits:
    """How long each side of a PostgreSQL connection waits for the other (seconds; 0 or None:
    no limit). The defaults make a silent machine lose its open transaction, and the write lock
    with it, well within 30 s: idle in transaction (10) < lock wait (20) < statement (30), so a
    writer waiting for the lock is not refused before the stuck one is cut off."""

    connect_seconds: float = 10.0  # this process: opening a connection
    command_seconds: float | None = 35.0  # this process: any one call (above statement_seconds)
    statement_seconds: float = 30.0  # the server: one statement
    lock_seconds: float = 20.0  # the server: waiting for any lock (the write lock too)
    idle_in_transaction_seconds: float = 10.0  # the server: a transaction nobody talks to
    # The server's TCP keepalives: a client that stops answering is dropped after about
    # idle + interval x count seconds; tcp_user_timeout bounds unacknowledged sends.
    keepalives_idle_seconds: int = 5
    keepalives_interval_seconds: int = 5
    keepalives_count: int = 3
    tcp_user_timeout_seconds: float = 20.0

    def server_settings(self) -> dict[str, str]:
        """The session settings that carry these limits to the server (milliseconds, seconds)."""

        def ms(seconds: float) -> str:
            return str(round(seconds * 1000))

        return {
            "statement_timeout": ms(self.statement_seconds),
            "lock_timeout": ms(self.lock_seconds),
            "idle_in_transaction_session_timeout": ms(self.idle_in_transaction_seconds),
            "tcp_keepalives_idle": str(self.keepalives_idle_seconds),
            "tcp_keepalives_interval": str(self.keepalives_interval_seconds),
            "tcp_keepalives_count": str(self.keepalives_count),
            "tcp_user_timeout": ms(self.tcp_user_timeout_seconds),
        }


class DatabaseUrlError(ValueError):
    """The PostgreSQL URL cannot be read unambiguously (the text says why, never showing it)."""


class DatabaseUnreachable(ConnectionError):
    """PostgreSQL could not be opened; the text names the server and the reason, not the password.
    `transient`: waiting may mend it (no answer, refused, the server starting or full), unlike a
    wrong password or a database that does not exist."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class _Address:
    """What a URL names, for error messages: never its password."""

    user: str
    hosts: str
    database: str
    password: str = field(repr=False)  # decoded, to be wiped from any text that might show it

    def __str__(self) -> str:
        return f"user {self.user or '(default)'} at {self.hosts}, database {self.database}"


def check_url(url: str) -> _Address:
    """Read a `postgresql://` URL the way asyncpg will, refusing what it would misread: an
    unencoded `/`, `#`, `?` or `@` in the password moves the rest into the host, port, path or
    query. Raise DatabaseUrlError without quoting any of it."""
    hint = "percent-encode special characters in the password (/ as %2F, # as %23, @ as %40)"
    try:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, strict_parsing=True)) if parts.query else {}
    except ValueError:
        raise DatabaseUrlError(f"it cannot be read as a URL; {hint}") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise DatabaseUrlError("it must start with postgresql://")
    if parts.fragment or "#" in url:
        raise DatabaseUrlError(f"it holds a # (which ends a URL); {hint}")
    auth, at, hostspec = parts.netloc.rpartition("@")
    if "@" in auth or "@" in parts.path or "@" in parts.query:
        # A password's / or ? ended the host part early: the rest is not what it seems.
        raise DatabaseUrlError(f"it holds an @ that is not the one before the host; {hint}")
    user, _, password = auth.partition(":")
    for host in hostspec.split(",") if hostspec else ():
        if host.startswith("["):  # [IPv6] or [IPv6]:port
            port = host.partition("]")[2]
        else:
            port = host[host.index(":") :] if ":" in host else ""
        if port and not (port.startswith(":") and port[1:].isdigit()):
            raise DatabaseUrlError(f"its host or port cannot be read; {hint}")
    hosts = hostspec or query.get("host", "") or "the default host"
    return _Address(
        user=unquote(user) or query.get("user", ""),
        hosts=hosts,
        database=unquote(parts.path.lstrip("/")) or query.get("dbname", ""),
        password=unquote(password) if at else "",
    )


def _redact(text: str, secrets: tuple[str | None, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


async def open_connection(
    url: str, limits: LinkLimits, *, password: str | None = None, **options: Any
) -> asyncpg.Connection:
    """Open one connection with `limits` (every connection wanbot makes is opened here; the pool
    passes its own `options`). Session settings given in the URL's query win over the limits'.
    Raise DatabaseUrlError or DatabaseUnreachable, whose text never shows the password."""
    address = check_url(url)
    given = {name for name, _ in parse_qsl(urlsplit(url).query)}
    settings = {k: v for k, v in limits.server_settings().items() if k not in given}
    try:
        return await asyncpg.connect(
            url,
            password=None if address.password else password or None,  # the URL's own wins
            timeout=limits.connect_seconds,
            command_timeout=limits.command_seconds,
            server_settings=settings,
            **options,
        )
    except TimeoutError:
        reason = f"no answer in {limits.connect_seconds:g} s"
        raise DatabaseUnreachable(
            f"cannot connect to PostgreSQL ({address}): {reason}", transient=True
        ) from None
    except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        reason = _redact(" ".join(str(error).split()), (url, address.password, password))
        raise DatabaseUnreachable(
            f"cannot connect to PostgreSQL ({address}): {reason}", transient=_transient(error)
        ) from None


def _transient(error: Exception) -> bool:
    """Whether a failure to connect may pass by itself: the network (refused, no route, a name
    not resolved yet), or the server's connection errors (08), start-up (57P03) or fullness
    (53300); not a refused password (28P01) or a missing database (3D000)."""
    if isinstance(error, OSError):
        return True
    state = getattr(error, "sqlstate", None) or ""
    return state.startswith("08") or state in {"57P03", "53300"}
