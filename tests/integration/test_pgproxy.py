"""The fault-injecting proxy itself: it forwards, and each fault looks from the client the way a
real one does (a silent machine answers nothing and closes nothing; a reset is an error at once;
a statement trigger fires on the chosen execution and not before)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.support.pgproxy import ProxyFactory
from tests.support.postgres import new_postgres_schema

DEADLINE = 10.0


async def backends(server_url: str, application_name: str) -> int:
    """How many sessions the server has for clients named `application_name`."""
    connection = await asyncpg.connect(server_url)
    try:
        return int(
            await connection.fetchval(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
                application_name,
            )
        )
    finally:
        await connection.close()


async def until(condition: object, what: str) -> None:
    """Await an async predicate's truth under the deadline. The server's sessions have no event
    to await from outside: this asks again every 20 ms."""
    try:
        async with asyncio.timeout(DEADLINE):
            while True:
                if await condition():  # type: ignore[operator]
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"waited {DEADLINE:.0f} s for {what}") from None


async def test_forwards_to_the_same_database_and_schema(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    url = await new_postgres_schema(postgres_server)
    proxy = await pg_proxy(url)
    assert proxy.url.startswith("postgresql://postgres:@127.0.0.1:")
    connection = await asyncpg.connect(proxy.url)
    try:
        assert await connection.fetchval("SELECT current_schema()") == url.rsplit("=", 1)[1]
        assert await connection.fetchval("SELECT $1::int + 1", 41) == 42
        assert await connection.fetchval("SELECT inet_client_addr() IS NULL") is True  # unix
        assert len(proxy.open_connections) == 1
    finally:
        await connection.close()
    await until(lambda: _none_open(proxy), "the proxy to see the client leave")


async def _none_open(proxy: object) -> bool:
    return not proxy.open_connections  # type: ignore[attr-defined]


async def test_blackhole_answers_nothing_and_closes_nothing(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    proxy = await pg_proxy(postgres_server)
    connection = await asyncpg.connect(proxy.url, server_settings={"application_name": "silent"})
    try:
        proxy.blackhole()
        with pytest.raises(TimeoutError):
            await connection.fetchval("SELECT 1", timeout=0.5)
        # Neither end heard anything: the client's socket is open, the server keeps the session.
        assert not connection.is_closed()
        assert [c.blackholed for c in proxy.connections] == [True]
        assert await backends(postgres_server, "silent") == 1
        # A new connection through a silent machine never gets an answer either.
        with pytest.raises(TimeoutError):
            await asyncpg.connect(proxy.url, timeout=0.5)
        assert await backends(postgres_server, "silent") == 1
    finally:
        connection.terminate()
    proxy.heal()
    again = await asyncpg.connect(proxy.url)
    try:
        assert await again.fetchval("SELECT 2") == 2  # healed: it forwards again
    finally:
        await again.close()


async def test_reset_is_an_error_at_once_and_ends_the_session(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    proxy = await pg_proxy(postgres_server)
    connection = await asyncpg.connect(proxy.url, server_settings={"application_name": "reset"})
    assert await backends(postgres_server, "reset") == 1
    proxy.reset()
    async with asyncio.timeout(DEADLINE):
        with pytest.raises((ConnectionResetError, asyncpg.ConnectionDoesNotExistError)):
            await connection.fetchval("SELECT 1")
    assert connection.is_closed()
    await until(lambda: _no_backends(postgres_server, "reset"), "the server to end the session")


async def _no_backends(server_url: str, name: str) -> bool:
    return await backends(server_url, name) == 0


async def test_a_trigger_resets_on_the_nth_execution_of_a_prepared_statement(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    proxy = await pg_proxy(postgres_server)
    trigger = proxy.on_statement("'marker' AS", nth=3)
    connection = await asyncpg.connect(proxy.url)
    try:
        other = "SELECT $1::int AS other"
        for n in (1, 2):
            assert await connection.fetchval("SELECT $1::int, 'marker' AS m", n) == n
            assert await connection.fetchval(other, n) == n  # not counted
            assert not trigger.fired.is_set()
        assert trigger.seen == 2
        async with asyncio.timeout(DEADLINE):
            with pytest.raises((ConnectionResetError, asyncpg.ConnectionDoesNotExistError)):
                await connection.fetchval("SELECT $1::int, 'marker' AS m", 3)
        assert trigger.fired.is_set()
    finally:
        connection.terminate()


async def test_a_reset_after_a_statement_lets_it_run_unheard(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    """`when="after"`: the statement reached the server and ran; its answer was lost."""
    url = await new_postgres_schema(postgres_server)
    direct = await asyncpg.connect(url)
    await direct.execute("CREATE TABLE marks (n int)")
    proxy = await pg_proxy(url)
    trigger = proxy.on_statement("INSERT INTO marks", when="after")
    connection = await asyncpg.connect(proxy.url)
    try:
        async with asyncio.timeout(DEADLINE):
            with pytest.raises((ConnectionResetError, asyncpg.ConnectionDoesNotExistError)):
                await connection.execute("INSERT INTO marks VALUES ($1)", 7)
        assert trigger.fired.is_set()
        assert await direct.fetchval("SELECT COUNT(*) FROM marks") == 1
    finally:
        connection.terminate()
        await direct.close()


async def test_a_blackhole_after_a_statement_holds_what_it_took(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    """A machine that goes silent right after taking a lock keeps it: the server still sees its
    session, and another session cannot take the lock."""
    proxy = await pg_proxy(postgres_server)
    trigger = proxy.on_statement("pg_advisory_lock", when="after", action="blackhole")
    connection = await asyncpg.connect(proxy.url)
    direct = await asyncpg.connect(postgres_server)
    try:
        with pytest.raises(TimeoutError):
            await connection.execute("SELECT pg_advisory_lock(4242)", timeout=0.5)
        assert trigger.fired.is_set()
        assert len(proxy.blackholed_connections) == 1
        assert await direct.fetchval("SELECT pg_try_advisory_lock(4242)") is False
    finally:
        connection.terminate()
        await direct.close()


async def test_a_machine_wide_trigger_silences_every_connection_of_that_machine_only(
    postgres_server: str, pg_proxy: ProxyFactory
) -> None:
    machine, other_machine = await pg_proxy(postgres_server), await pg_proxy(postgres_server)
    trigger = machine.on_statement("'go silent'", action="blackhole", scope="machine")
    first, second = [await asyncpg.connect(machine.url) for _ in range(2)]
    elsewhere = await asyncpg.connect(other_machine.url)
    try:
        with pytest.raises(TimeoutError):  # "before": the statement itself never arrives
            await first.execute("SELECT 'go silent'", timeout=0.5)
        assert trigger.fired.is_set()
        with pytest.raises(TimeoutError):
            await second.fetchval("SELECT 1", timeout=0.5)
        # Every connection of that machine is silent (asyncpg's cancel requests included).
        assert len(machine.blackholed_connections) >= 2
        assert machine.blackholed_connections == machine.open_connections
        assert await elsewhere.fetchval("SELECT 3") == 3
        assert not other_machine.blackholed_connections
    finally:
        for connection in (first, second, elsewhere):
            connection.terminate()
