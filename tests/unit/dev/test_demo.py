"""`python -m bot demo` end to end: every mode makes a playable mp4 that shows its own inputs."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import av
import pytest

from bot.dev.demo import MODES, run_demo


async def test_every_mode_makes_a_playable_video_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_demo(tmp_path) == 0
    assert f"{len(MODES)}/{len(MODES)} modes made a playable mp4" in capsys.readouterr().out
    videos = {path.name: path.read_bytes() for path in sorted(tmp_path.glob("*.mp4"))}
    assert len(videos) == len(MODES)
    for data in videos.values():
        with av.open(io.BytesIO(data), mode="r") as container:
            assert container.duration and container.streams.video[0].width == 320
    # Each mode's video draws its own inputs, model and mode, so no two are the same file.
    same = [(a, b) for (a, x), (b, y) in itertools.combinations(videos.items(), 2) if x == y]
    assert same == []
