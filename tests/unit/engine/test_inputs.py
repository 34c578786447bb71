"""The input store: an upload's bytes kept under its URL for `days` days, then swept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.engine.inputs import HOUR, InputStore
from bot.engine.virtual import VirtualClock

DAY = 86_400.0
URL = "oss://dashscope-instant/abc/2026-12-05/cat.png"


async def test_an_upload_is_found_by_its_url_with_its_bytes_and_time(tmp_path: Path) -> None:
    clock = VirtualClock()
    store = InputStore(tmp_path, days=7, clock=clock)
    await store.keep(URL, "cat.png", b"picture")
    clock.advance(3 * DAY)
    kept = store.find(URL)
    assert kept is not None
    assert kept.path.read_bytes() == b"picture" and kept.path.suffix == ".png"
    assert kept.uploaded_at == clock() - 3 * DAY
    assert store.find("oss://dashscope-instant/other.png") is None


async def test_past_keeping_it_is_not_found_and_the_sweep_deletes_it(tmp_path: Path) -> None:
    clock = VirtualClock()
    store = InputStore(tmp_path, days=2, clock=clock)
    await store.keep(URL, "cat.png", b"old")
    clock.advance(DAY)
    await store.keep("oss://x/new.wav", "new.wav", b"new")
    clock.advance(DAY + HOUR)
    assert store.find(URL) is None and store.find("oss://x/new.wav") is not None
    swept = store.sweep()
    assert sorted(path.suffix for path in swept) == [".json", ".png"]
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".json", ".wav"]


async def test_unfinished_files_go_after_a_day_and_others_files_stay(tmp_path: Path) -> None:
    clock = VirtualClock()
    store = InputStore(tmp_path, days=7, clock=clock)
    unfinished = tmp_path / "input-0123.png.part"
    unfinished.write_bytes(b"half")
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not ours")
    for path in (unfinished, foreign):
        os.utime(path, (clock() - 8 * DAY, clock() - 8 * DAY))
    assert store.sweep() == [unfinished]
    assert foreign.exists()


async def test_no_days_keeps_nothing(tmp_path: Path) -> None:
    store = InputStore(tmp_path / "inputs", days=0)
    await store.keep(URL, "cat.png", b"picture")
    assert store.find(URL) is None
    assert not (tmp_path / "inputs").exists()


async def test_the_sweep_runs_at_most_once_an_hour(tmp_path: Path) -> None:
    clock = VirtualClock()
    store = InputStore(tmp_path, days=1, clock=clock)
    await store.keep(URL, "cat.png", b"picture")
    clock.advance(DAY - 600)
    assert await store.sweep_if_due() == [], "not past keeping yet"
    clock.advance(1800)
    assert await store.sweep_if_due() == [], "past keeping, but the last sweep was just now"
    clock.advance(2400)
    assert len(await store.sweep_if_due()) == 2


async def test_a_copy_that_cannot_be_written_costs_the_upload_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "inputs"
    blocked.write_bytes(b"a file where the folder should be")  # every write under it fails
    store = InputStore(blocked, days=7, clock=VirtualClock())

    await store.keep(URL, "cat.png", b"picture")  # does not raise: the upload stands

    assert store.find(URL) is None, "nothing half kept is offered later"
    assert "Could not keep the input" in caplog.text
    assert await store.sweep_if_due() == []
