"""The fake Discord itself: history paging, nonce dedup, faults, multipart files and body checks
(a modal's too)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.fakediscord import FakeDiscord
from tests.support.fakediscord.spec import SpecChecker

AUTH = {"Authorization": "Bot fake"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


async def post(
    session: aiohttp.ClientSession, fake: FakeDiscord, body: dict[str, object]
) -> aiohttp.ClientResponse:
    url = f"{fake.api_base}/channels/{fake.channel.id}/messages"
    return await session.post(url, json=body, headers=AUTH)


async def test_history_pages_newest_first_like_discord(fake: FakeDiscord) -> None:
    ids = [fake.say(fake.member, f"m{n}").id for n in range(5)]
    url = f"{fake.api_base}/channels/{fake.channel.id}/messages"
    async with aiohttp.ClientSession() as session:
        after = await (
            await session.get(url, params={"after": ids[0], "limit": 2}, headers=AUTH)
        ).json()
        before = await (
            await session.get(url, params={"before": ids[4], "limit": 2}, headers=AUTH)
        ).json()
    assert [int(m["id"]) for m in after] == [ids[2], ids[1]]
    assert [int(m["id"]) for m in before] == [ids[3], ids[2]]


async def test_enforced_nonce_returns_the_first_message(fake: FakeDiscord) -> None:
    body = {"content": "hi", "nonce": "job-1", "enforce_nonce": True}
    async with aiohttp.ClientSession() as session:
        first = await (await post(session, fake, body)).json()
        second = await (await post(session, fake, body)).json()
    assert first["id"] == second["id"]
    assert len(fake.channel_messages()) == 1 and fake.nonce_hits == 1


async def test_faults_fail_then_recover_and_bad_bodies_get_400(fake: FakeDiscord) -> None:
    fake.faults.fail("POST", r"/channels/\d+/messages", 403, times=1)
    async with aiohttp.ClientSession() as session:
        refused = await post(session, fake, {"content": "x"})
        accepted = await post(session, fake, {"content": "x"})
        invalid = await post(session, fake, {"content": 5})
        assert refused.status == 403 and (await refused.json())["code"] == 50001
        assert accepted.status == 200
        assert invalid.status == 400
    if fake.spec.available:
        assert len(fake.violations) == 1 and "content" in fake.violations[0].where


async def test_multipart_files_become_attachments_on_the_cdn(fake: FakeDiscord) -> None:
    form = aiohttp.FormData()
    payload = {"content": "video", "attachments": [{"id": 0, "filename": "a.mp4"}]}
    form.add_field("payload_json", json.dumps(payload), content_type="application/json")
    form.add_field("files[0]", b"\x00mp4", filename="a.mp4", content_type="video/mp4")
    url = f"{fake.api_base}/channels/{fake.channel.id}/messages"
    async with aiohttp.ClientSession() as session:
        message = await (await session.post(url, data=form, headers=AUTH)).json()
        cdn = await session.get(message["attachments"][0]["url"])
        assert await cdn.read() == b"\x00mp4"
    assert fake.violations == []


@pytest.mark.parametrize("spec", ["the OpenAPI spec", "hand checks"])
async def test_a_modal_is_checked_with_or_without_the_spec(fake: FakeDiscord, spec: str) -> None:
    """A modal's callback (labels, a text display) passes; a title over 45 characters does not."""
    checker = fake.spec
    if spec == "hand checks":
        checker = SpecChecker(Path("/nonexistent/openapi.json"))
    elif not checker.available:
        pytest.skip("the OpenAPI spec is not beside the repository")
    path = "/interactions/1/token/callback"
    field = {"type": 4, "custom_id": "prompt", "style": 2, "required": False, "max_length": 4000}
    modal = {
        "custom_id": "m",
        "title": "Animate this image",
        "components": [
            {"type": 10, "content": "That message has 2 images: the first is used."},
            {"type": 18, "label": "What should happen in the video", "component": field},
        ],
    }
    assert checker.check("POST", path, {"type": 9, "data": modal}) == []
    too_long = modal | {"title": "x" * 46}
    assert checker.check("POST", path, {"type": 9, "data": too_long})
