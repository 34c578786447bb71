"""A retry's or remix's inputs, judged before anything is spent: its uploads while they have a day
left, else the bytes the input store kept (to be uploaded again), else a clear refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.dashscope import DashScopeClient
from bot.domain.catalog import MediaType
from bot.engine.inputs import HOUR, InputStore
from bot.engine.key_ring import KeyRing
from bot.engine.virtual import VirtualClock
from bot.intake.admission import Admission, InputsGone
from bot.intake.ask import Ask, Uploaded
from bot.media.pools import MediaWorkers

PICTURE, SOUND = "oss://dashscope-instant/a/cat.png", "https://example.com/voice.wav"


class _Gate:
    retired_models: frozenset[str] = frozenset()

    async def admissible(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as made:
        yield made


def _admission(
    session: aiohttp.ClientSession, store: InputStore | None, clock: VirtualClock
) -> Admission:
    client = DashScopeClient(session, api_key=SecretStr("sk"), base_url="http://127.0.0.1:9/api")
    keys = KeyRing.single(client)
    return Admission(
        session, keys, workers=MediaWorkers(), engine=_Gate(), inputs=store, clock=clock
    )


def _retry(clock: VirtualClock, *, asked_hours_ago: float, key: str | None = None) -> Ask:
    media = {MediaType.FIRST_FRAME: PICTURE, MediaType.DRIVING_AUDIO: SOUND}
    since = clock() - asked_hours_ago * HOUR
    return Ask("wan2.7-i2v", {}, "A cat", uploaded=Uploaded(media, key, job=7, since=since))


async def test_uploads_with_a_day_left_are_used_as_they_are(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    clock = VirtualClock()
    store = InputStore(tmp_path, days=7, clock=clock)
    await store.keep(PICTURE, "cat.png", b"picture")
    clock.advance(23 * HOUR)
    ask = _retry(clock, asked_hours_ago=23)
    assert _admission(session, store, clock).inputs_at_hand(ask) is ask


async def test_older_uploads_are_made_again_from_the_kept_bytes(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    clock = VirtualClock()
    store = InputStore(tmp_path, days=7, clock=clock)
    await store.keep(PICTURE, "cat.png", b"picture")
    clock.advance(25 * HOUR)  # less than a day left: the new job may wait in line
    again = _admission(session, store, clock).inputs_at_hand(_retry(clock, asked_hours_ago=25))
    assert again.uploaded is None
    picture = Path(str(again.media[MediaType.FIRST_FRAME]))
    assert picture.read_bytes() == b"picture" and picture.suffix == ".png"
    assert again.media[MediaType.DRIVING_AUDIO] == SOUND, "a URL given as one passes through"
    assert (again.prompt, again.model) == ("A cat", "wan2.7-i2v")


async def test_a_key_no_longer_configured_means_uploading_again(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    clock = VirtualClock()
    store = InputStore(tmp_path, days=7, clock=clock)
    await store.keep(PICTURE, "cat.png", b"picture")
    ask = _retry(clock, asked_hours_ago=0, key="removed")
    assert _admission(session, store, clock).inputs_at_hand(ask).uploaded is None


async def test_without_a_kept_copy_the_videos_age_decides(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    clock = VirtualClock()
    admission = _admission(session, InputStore(tmp_path, days=7, clock=clock), clock)
    young = _retry(clock, asked_hours_ago=40)
    assert admission.inputs_at_hand(young) is young, "as before the store: the upload may live"
    with pytest.raises(InputsGone) as gone:
        admission.inputs_at_hand(_retry(clock, asked_hours_ago=47.5))
    assert "video #7 was made from are no longer kept" in str(gone.value.text)


async def test_with_no_store_at_all_only_the_age_decides(
    session: aiohttp.ClientSession,
) -> None:
    clock = VirtualClock()
    admission = _admission(session, None, clock)
    with pytest.raises(InputsGone):
        admission.inputs_at_hand(_retry(clock, asked_hours_ago=50))
    plain = Ask("wan2.7-i2v", {}, "A cat")
    assert admission.inputs_at_hand(plain) is plain
