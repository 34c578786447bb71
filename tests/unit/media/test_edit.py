"""bot.media.edit on real media: fitting under a size limit, tail clips and last frames."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from bot.domain.errors import InvalidInput
from bot.media import edit as video_edit
from bot.media.edit import fit_video, last_frame_png, tail_clip
from bot.media.probe import probe_video_file
from bot.media.quality import ssim
from bot.media.samples import make_video
from tests.support.media import noisy_video

BAR = (240, 200, 40)  # the moving bar of bot.media.samples.make_video
BACKGROUND = (30, 40, 60)


def frames_of(path: Path) -> list[Image.Image]:
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def assert_aspect(width: int, height: int, source_width: int, source_height: int) -> None:
    assert width / height == pytest.approx(source_width / source_height, rel=0.02)


# -- fit_video ------------------------------------------------------------------------------------


def test_fit_video_fits_under_the_limit_and_keeps_shape_duration_and_sound(tmp_path: Path) -> None:
    source = noisy_video(tmp_path / "source.mp4", 5, 640, 360, with_audio=True)
    assert source.stat().st_size > 4 * 300_000
    target = tmp_path / "out" / "fitted.mp4"

    result = fit_video(source, target, 300_000)

    assert result is not None
    assert result.path == target
    assert result.size_bytes == target.stat().st_size <= 300_000
    info = probe_video_file(target)
    assert info.format == "mp4"
    assert (info.width, info.height) == (result.width, result.height)
    assert_aspect(info.width, info.height, 640, 360)
    assert info.duration == pytest.approx(5, abs=0.3)
    assert info.has_audio
    # 300 kB over 5 s leaves ~340 kbit/s: too few for 640x360 at 24 fps, enough for 240 lines.
    assert (result.width, result.height) == (426, 240)
    assert 200_000 <= result.video_bitrate <= 300_000 * 8 / 5
    assert 1 <= result.attempts <= 3


def test_fit_video_scales_down_when_bits_per_pixel_run_short(tmp_path: Path) -> None:
    source = noisy_video(tmp_path / "source.mp4", 3, 1280, 720, fps=10, bit_rate=3_000_000)

    result = fit_video(source, tmp_path / "fitted.mp4", 120_000)

    assert result is not None
    assert result.size_bytes <= 120_000
    assert 240 <= result.height < 720
    assert result.width % 2 == 0 and result.height % 2 == 0
    info = probe_video_file(result.path)
    assert_aspect(info.width, info.height, 1280, 720)
    assert info.duration == pytest.approx(3, abs=0.3)
    assert not info.has_audio
    # No audio stream, so no audio budget: the video gets the whole 92 % (less a retry's cut).
    whole = int(120_000 * 8 * 0.92 / info.duration)
    assert whole - video_edit.AUDIO_BITRATE < result.video_bitrate <= whole


@pytest.mark.parametrize(
    ("size", "bit_rate", "expected"),
    [
        ((1280, 720), 60_000, (426, 240)),  # few bits: down to min_height, never below
        ((720, 1280), 60_000, (240, 426)),  # portrait: the shorter side is the bound
        ((1920, 1080), 5_000_000, (1284, 722)),  # 0.08 bit/pixel at 30 fps: about 720p
        ((1920, 1080), 12_000_000, (1920, 1080)),  # 0.19: keep 1080p
        ((1920, 1080), 1_000_000, (574, 322)),
        ((320, 180), 10_000_000, (320, 180)),  # never upscale
        ((200, 150), 30_000, (200, 150)),  # already under min_height: left alone
    ],
)
def test_fit_size_trades_pixels_for_bits_per_pixel(
    size: tuple[int, int], bit_rate: int, expected: tuple[int, int]
) -> None:
    width, height = video_edit._fit_size(*size, bit_rate, Fraction(30), 240)
    assert (width, height) == expected
    assert width % 2 == 0 and height % 2 == 0


def test_a_fitted_video_looks_like_its_source_at_the_size_it_chose(tmp_path: Path) -> None:
    # Noise in motion, 720p, squeezed to a third of its bytes: the fit trades pixels for bits.
    source = noisy_video(tmp_path / "source.mp4", 3, 1280, 720, fps=24, bit_rate=4_000_000)
    limit = source.stat().st_size // 3

    result = fit_video(source, tmp_path / "fitted.mp4", limit)

    assert result is not None and result.size_bytes <= limit
    assert result.height < 720
    # The same bytes at full size look worse (SSIM against the source at each one's size).
    full = tmp_path / "full.mp4"
    encoding = video_edit._Encoding(1280, 720, {"preset": "superfast"}, result.video_bitrate)
    video_edit._transcode(source, full, encoding, start=0.0, end=None)
    assert ssim(source, full) + 0.01 < ssim(source, result.path)


def test_fit_video_retries_with_a_lower_bitrate_when_still_too_big(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spend 40 % more than the budget on purpose, so the first attempt overshoots.
    monkeypatch.setattr(video_edit, "_HEADROOM", 1.4)
    source = noisy_video(tmp_path / "source.mp4", 4, 640, 360, with_audio=True)

    result = fit_video(source, tmp_path / "fitted.mp4", 300_000)

    assert result is not None
    assert result.attempts >= 2
    assert result.size_bytes == result.path.stat().st_size <= 300_000
    assert result.video_bitrate < int(300_000 * 8 * 1.4 / 4) - video_edit.AUDIO_BITRATE


def test_fit_video_gives_up_below_a_watchable_bitrate_and_leaves_no_file(tmp_path: Path) -> None:
    source = noisy_video(tmp_path / "source.mp4", 6, 640, 360, with_audio=True)
    target = tmp_path / "fitted.mp4"

    assert fit_video(source, target, 20_000) is None
    assert not target.exists()


def test_fit_video_removes_partial_output_when_encoding_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = noisy_video(tmp_path / "source.mp4", 2, 320, 240, with_audio=True)
    target = tmp_path / "fitted.mp4"

    def broken_finish(self: object) -> None:
        raise RuntimeError("encoder died")

    monkeypatch.setattr(video_edit._AudioCopy, "finish", broken_finish)
    with pytest.raises(RuntimeError, match="encoder died"):
        fit_video(source, target, 200_000)
    assert not target.exists()


def test_fit_video_caps_the_frame_rate_at_30(tmp_path: Path) -> None:
    source = tmp_path / "fast.mp4"
    source.write_bytes(make_video(3, 320, 180, fps=60))

    result = fit_video(source, tmp_path / "fitted.mp4", 2_000_000)

    assert result is not None
    with av.open(str(result.path)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 30
        assert stream.frames == 90
    assert probe_video_file(result.path).duration == pytest.approx(3, abs=0.1)


# -- tail_clip ------------------------------------------------------------------------------------


def test_tail_clip_of_a_long_video_is_its_last_ten_seconds(tmp_path: Path) -> None:
    source = tmp_path / "long.mp4"
    source.write_bytes(make_video(14, 640, 360, fps=10, with_audio=True))
    target = tmp_path / "tail.mp4"

    duration = tail_clip(source, target)

    assert duration == pytest.approx(10, abs=0.1)
    assert duration <= 10.0
    info = probe_video_file(target)
    assert info.duration == pytest.approx(duration, abs=0.01)
    assert (info.width, info.height) == (640, 360)
    assert info.has_audio
    with av.open(str(target)) as container:
        first_packet = next(p for p in container.demux(video=0) if p.size)
        assert first_packet.is_keyframe
    frames = frames_of(target)
    assert len(frames) == 100
    # The source's frame 40 of 140 (t = 4 s) opens the clip: its bar is at 40/140 of the width.
    bar_x = int(40 / 140 * 640) + 640 // 40
    assert close_to(frames[0].getpixel((bar_x, 180)), BAR)
    assert close_to(frames[0].getpixel((10, 180)), BACKGROUND)
    assert close_to(frames[-1].getpixel((638, 180)), BAR)


def test_tail_clip_never_outlasts_ten_seconds_at_ntsc_rates(tmp_path: Path) -> None:
    # 10 s is not a whole number of 1001/30000 s frames: 300 of them would be 10.01 s.
    source = noisy_video(
        tmp_path / "ntsc.mp4", 12, 320, 240, fps=Fraction(30000, 1001), with_audio=True
    )
    target = tmp_path / "tail.mp4"

    duration = tail_clip(source, target)

    assert 9.9 < duration <= 10.0
    with av.open(str(target)) as container:
        for stream in container.streams:
            assert stream.duration is not None
            assert float(stream.duration * stream.time_base) <= 10.0
    assert probe_video_file(target).duration <= 10.0


def test_tail_clip_of_a_short_video_is_all_of_it(tmp_path: Path) -> None:
    source = tmp_path / "short.mp4"
    source.write_bytes(make_video(5, 320, 240, fps=10, with_audio=True))
    target = tmp_path / "tail.mp4"

    duration = tail_clip(source, target)

    assert duration == pytest.approx(5, abs=0.1)
    info = probe_video_file(target)
    assert info.duration == pytest.approx(5, abs=0.1)
    assert info.has_audio
    assert len(frames_of(target)) == 50


def test_tail_clip_takes_at_most_the_seconds_asked(tmp_path: Path) -> None:
    source = tmp_path / "short.mp4"
    source.write_bytes(make_video(6, 320, 240, fps=10))
    target = tmp_path / "tail.mp4"

    assert tail_clip(source, target, seconds=3) == pytest.approx(3, abs=0.1)
    assert not probe_video_file(target).has_audio


def test_tail_clip_refuses_a_video_under_two_seconds(tmp_path: Path) -> None:
    source = tmp_path / "tiny.mp4"
    source.write_bytes(make_video(1, 320, 240, fps=10))
    target = tmp_path / "tail.mp4"

    with pytest.raises(InvalidInput) as refused:
        tail_clip(source, target)
    assert str(refused.value) == "The video is 1.0 s long; continuing needs at least 2 s."
    assert refused.value.field == "first_clip"
    assert not target.exists()


def test_tail_clip_scales_small_videos_up_to_the_providers_minimum(tmp_path: Path) -> None:
    source = tmp_path / "small.mp4"
    source.write_bytes(make_video(3, 200, 150, fps=10))
    target = tmp_path / "tail.mp4"

    tail_clip(source, target)

    info = probe_video_file(target)
    assert min(info.width, info.height) >= 240
    assert max(info.width, info.height) <= 4096
    assert_aspect(info.width, info.height, 200, 150)


# -- last_frame_png -------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [3, 14])
def test_last_frame_png_is_the_last_frame(tmp_path: Path, seconds: int) -> None:
    source = tmp_path / "video.mp4"
    source.write_bytes(make_video(seconds, 320, 180, fps=10, with_audio=True))

    data = last_frame_png(source)

    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.mode == "RGB"
        assert image.size == (320, 180)
        picture = image.copy()
    # At the end the bar is at the far right; the first frame has it at the far left.
    assert close_to(picture.getpixel((318, 90)), BAR)
    assert close_to(picture.getpixel((5, 90)), BACKGROUND)
    every_frame = frames_of(source)
    difference = ImageChops.difference(picture, every_frame[-1].convert("RGB"))
    assert max(ImageStat.Stat(difference).mean) < 1


def test_last_frame_png_falls_back_to_a_full_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "video.mp4"
    source.write_bytes(make_video(3, 320, 180, fps=10))

    def failing_seek(*args: object) -> None:
        raise av.error.PermissionError(1, "seek refused")

    monkeypatch.setattr(video_edit, "_seek", failing_seek)
    data = last_frame_png(source)

    with Image.open(io.BytesIO(data)) as image:
        assert close_to(image.getpixel((318, 90)), BAR)
