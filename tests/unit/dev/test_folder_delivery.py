"""bot/dev/folder_delivery.py on real videos: a delivery appears whole, under its final name only
once written; a new process finds it (so it is never written twice); a video over the job's
limit is fitted under it, and one that cannot be fitted leaves nothing to be found."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

from bot.dev.folder_delivery import FolderNotifier
from bot.domain.jobs import Job, JobState
from bot.engine.notifier import Progress
from bot.media.pools import MediaWorkers
from bot.media.probe import probe_video_file
from bot.media.samples import make_video
from tests.support.media import noisy_video


def job(job_id: int, filesize_limit: int | None = None) -> Job:
    values: dict[str, object] = {f.name: None for f in fields(Job)}
    values.update(
        id=job_id,
        state=JobState.DELIVERING,
        user_id=1,
        model="wan2.7-i2v",
        resolution="720P",
        duration=3,
        request_json="{}",
        reserved_seconds=3,
        attempts=1,
        created_at=0.0,
        updated_at=0.0,
        filesize_limit=filesize_limit,
    )
    return Job(**values)


class WatchedWorkers(MediaWorkers):
    """Real media workers that note, while each fit runs, whether the final file exists yet."""

    def __init__(self, final: Path) -> None:
        super().__init__()
        self._final = final
        self.final_existed_during_fit: list[bool] = []

    async def fit(self, source: Path, target: Path, limit_bytes: int) -> Path | None:
        self.final_existed_during_fit.append(self._final.exists())
        fitted = await super().fit(source, target, limit_bytes)
        self.final_existed_during_fit.append(self._final.exists())
        return fitted


@pytest.fixture
def workers() -> Iterator[MediaWorkers]:
    made = MediaWorkers()
    yield made
    made.close()


async def test_a_video_within_the_limit_is_copied_whole_and_found_again_after_a_restart(
    tmp_path: Path, workers: MediaWorkers
) -> None:
    spool = tmp_path / "spool.mp4"
    spool.write_bytes(make_video(2.0, 320, 180))
    folder = tmp_path / "out"
    notifier = FolderNotifier(folder, workers)
    small = job(7, filesize_limit=spool.stat().st_size + 1)
    assert await notifier.delivered_message(small) is None

    assert await notifier.deliver(small, spool) == 7

    assert (folder / "job-7.mp4").read_bytes() == spool.read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["job-7.mp4"]  # no partial left
    assert spool.exists()  # the spool file is the pipeline's to remove
    # A process started afterwards (a restart, or another worker) finds it: never written twice.
    again = FolderNotifier(folder, workers)
    assert await again.delivered_message(small) == 7
    assert await again.delivered_message(job(8)) is None


async def test_a_video_over_the_limit_is_fitted_under_it_and_appears_only_when_whole(
    tmp_path: Path, workers: MediaWorkers
) -> None:
    spool = noisy_video(tmp_path / "spool.mp4", 3, 640, 360, with_audio=True)
    limit = 150_000
    assert spool.stat().st_size > 3 * limit
    folder = tmp_path / "out"
    watched = WatchedWorkers(folder / "job-3.mp4")
    try:
        notifier = FolderNotifier(folder, watched)
        await notifier.progress(job(3, limit), Progress(state=JobState.DELIVERING, elapsed=1.0))

        assert await notifier.deliver(job(3, limit), spool) == 3
    finally:
        watched.close()

    delivered = folder / "job-3.mp4"
    assert delivered.stat().st_size <= limit
    info = probe_video_file(delivered)
    assert info.duration == pytest.approx(3, abs=0.3)
    assert info.has_audio
    # Encoded under another name; the final name appeared only once the fit was done.
    assert watched.final_existed_during_fit == [False, False]
    assert sorted(p.name for p in folder.iterdir()) == ["job-3.mp4"]
    assert await FolderNotifier(folder, workers).delivered_message(job(3)) == 3


async def test_a_video_that_cannot_be_fitted_leaves_nothing_to_be_found(
    tmp_path: Path, workers: MediaWorkers
) -> None:
    spool = noisy_video(tmp_path / "spool.mp4", 3, 640, 360)
    folder = tmp_path / "out"
    notifier = FolderNotifier(folder, workers)
    hopeless = job(4, filesize_limit=20_000)  # under 200 kbit/s for 3 s: not watchable

    with pytest.raises(RuntimeError, match="cannot be made small enough"):
        await notifier.deliver(hopeless, spool)

    assert list(folder.iterdir()) == []
    assert await notifier.delivered_message(hopeless) is None
    # The engine then ends the job failed; the folder says why.
    await notifier.fail(hopeless, "The video was made but could not be posted.")
    assert (folder / "job-4.failed.txt").read_text() == (
        "The video was made but could not be posted.\n"
    )
    assert await notifier.delivered_message(hopeless) is None
