"""`python -m bot generate`: what a person scripting it sees, against the simulator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.dev.headless import read_durations
from bot.domain.catalog import MediaType
from bot.media import samples
from bot.media.probe import probe
from bot.run.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, build_parser, run_generate
from bot.run.settings import Settings
from bot.simulator import Simulator
from tests.support.provider import API_KEY


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good and bad inputs, made once for this module."""
    folder = tmp_path_factory.mktemp("inputs")
    made = {
        "first.png": samples.make_image(1280, 720),
        "last.jpg": samples.make_image(1280, 720, fmt="JPEG", hue=4),
        "voice.wav": samples.make_audio(4.0),
        "clip.mp4": samples.make_video(3.0, 320, 240, fps=5),
        "alpha.png": samples.make_image(800, 600, alpha=True),
        "tiny.png": samples.make_image(100, 100),
        "wide.png": samples.make_image(2700, 300),
        "short.wav": samples.make_audio(1.0),
        "long.wav": samples.make_audio(31.0),
        "long.mp4": samples.make_video(11.0, 240, 240, fps=2),
        "very-long.mp4": samples.make_video(31.0, 240, 240, fps=1),
        "empty.png": b"",
        "program.png": Path("/bin/ls").read_bytes()[:4096],
        "truncated.png": samples.make_image(1280, 720)[:1500],
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in made}


@pytest.fixture
def settings(simulator: Simulator, tmp_path: Path) -> Settings:
    return Settings(
        dashscope_api_key=API_KEY,
        dashscope_base_url=simulator.base_url,
        credentials_file=tmp_path / "none",
        poll_dense_seconds=0.01,
        poll_longest_seconds=0.05,
        durations_file=tmp_path / "cache" / "durations.json",
    )


async def generate(settings: Settings, *argv: str | Path) -> int:
    args = build_parser().parse_args(["generate", *map(str, argv)])
    return await run_generate(args, settings)


@pytest.fixture
def fast(simulator: Simulator) -> Simulator:
    """Tasks finish at once, in real time, so the CLI's own poll loop runs for real."""
    simulator.clock = time.time
    simulator.config.pending_seconds = 0.02
    simulator.config.running_seconds = 0.02
    return simulator


async def test_generate_writes_the_video_and_the_evidence(
    fast: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "out" / "video.mp4"
    code = await generate(
        settings,
        "--model", "wan2.7-i2v", "--first-frame", files["first.png"], "--audio", files["voice.wav"],
        "--prompt", "A sunrise", "--duration", "4", "--seed", "7", "--output", output,
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == EXIT_OK, captured.err
    assert captured.out.strip() == str(output)
    assert "queued" in captured.err and "delivered" in captured.err

    info = probe(MediaType.FIRST_CLIP, output.read_bytes())
    assert info.duration == pytest.approx(4, abs=0.3)
    evidence = json.loads(output.with_suffix(".json").read_text())
    assert evidence["outcome"] == "DELIVERED"
    assert evidence["task_id"] == evidence["responses"][0]["body"]["output"]["task_id"]
    assert evidence["responses"][0]["call"] == "submit"
    assert evidence["responses"][-1]["body"]["output"]["task_status"] == "SUCCEEDED"
    assert evidence["video_url"].startswith("http")
    media = evidence["request"]["input"]["media"]
    assert [m["type"] for m in media] == ["first_frame", "driving_audio"]
    assert all(m["url"].startswith("oss://") for m in media)
    assert API_KEY not in output.with_suffix(".json").read_text()

    submit = next(r for r in fast.requests if r.path.endswith("video-synthesis"))
    assert submit.json["parameters"] == {
        "resolution": "1080P", "duration": 4, "prompt_extend": True, "watermark": False, "seed": 7,
    }  # fmt: skip


@pytest.mark.parametrize("audio", [False, True], ids=["prompt alone", "with audio"])
async def test_generate_makes_a_video_from_text_in_the_ratio_asked(
    fast: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    audio: bool,
) -> None:
    output = tmp_path / "fox.mp4"
    sound = ["--audio", files["voice.wav"]] if audio else []
    code = await generate(
        settings,
        "--model", "wan2.7-t2v", "--prompt", "A fox dances in the snow", *sound,
        "--ratio", "9:16", "--duration", "3", "--seed", "5", "--output", output,
    )  # fmt: skip
    assert code == EXIT_OK, capsys.readouterr().err
    info = probe(MediaType.FIRST_CLIP, output.read_bytes())
    assert info.duration == pytest.approx(3, abs=0.3)
    assert info.width is not None and info.height is not None
    assert info.width / info.height == pytest.approx(9 / 16, rel=0.05)

    submit = next(r for r in fast.requests if r.path.endswith("video-synthesis"))
    assert submit.json["parameters"] == {
        "resolution": "1080P", "ratio": "9:16", "duration": 3, "prompt_extend": True,
        "watermark": False, "seed": 5,
    }  # fmt: skip
    sent = submit.json["input"]
    assert sent["prompt"] == "A fox dances in the snow"
    assert "media" not in sent and "img_url" not in sent
    if audio:
        assert sent["audio_url"].startswith("oss://")
        assert submit.headers.get("X-DashScope-OssResourceResolve") == "enable"
    else:
        assert "audio_url" not in sent
    evidence = json.loads(output.with_suffix(".json").read_text())
    assert evidence["request"]["input"] == sent
    usage = evidence["responses"][-1]["body"]["usage"]
    assert (usage["output_video_duration"], usage["ratio"]) == (3, "9:16")


async def test_generate_puts_references_in_a_new_scene(
    fast: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """wan2.7-r2v from a picture with a voice and a clip with words about it: each told from
    its file, uploaded, sent in the order given as SDK 2.0.2 sends them; the clip's seconds are
    billed on top of the output's."""
    output = tmp_path / "scene.mp4"
    code = await generate(
        settings,
        "--model", "wan2.7-r2v", "--prompt", "Image 1 throws a ball to Video 1",
        "--reference", files["first.png"], "--reference", files["clip.mp4"],
        "--reference-voice", f"1={files['voice.wav']}", "--reference-description", "2=a dog",
        "--ratio", "1:1", "--duration", "4", "--seed", "3", "--output", output,
    )  # fmt: skip
    assert code == EXIT_OK, capsys.readouterr().err
    submit = next(r for r in fast.requests if r.path.endswith("video-synthesis"))
    media = submit.json["input"]["media"]
    assert [sorted(m) for m in media] == [
        ["reference_voice", "type", "url"],
        ["reference_description", "type", "url"],
    ]
    assert [m["type"] for m in media] == ["reference_image", "reference_video"]
    assert all(m["url"].startswith("oss://") for m in media)
    assert media[0]["reference_voice"].startswith("oss://")
    assert media[1]["reference_description"] == "a dog"
    assert submit.json["parameters"] == {
        "resolution": "1080P", "ratio": "1:1", "duration": 4, "prompt_extend": True,
        "watermark": False, "seed": 3,
    }  # fmt: skip
    assert submit.headers.get("X-DashScope-OssResourceResolve") == "enable"
    uploads = [r for r in fast.requests if r.path.endswith("/uploads")]
    assert len(uploads) == 3  # one policy per file, for the model called
    info = probe(MediaType.FIRST_CLIP, output.read_bytes())
    assert info.duration == pytest.approx(4, abs=0.3)
    assert info.width == info.height
    usage = json.loads(output.with_suffix(".json").read_text())["responses"][-1]["body"]["usage"]
    assert (usage["duration"], usage["input_video_duration"]) == (7, 3)


async def test_generate_edits_a_clip_keeping_its_sound(
    fast: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """wan2.7-videoedit: the clip first, the reference image after it, no duration (the clip's
    length), audio_setting origin, as SDK 2.0.2 sends them; the clip and the output billed."""
    output = tmp_path / "clay.mp4"
    code = await generate(
        settings,
        "--model", "wan2.7-videoedit", "--prompt", "Convert the scene to claymation",
        "--video", files["clip.mp4"], "--reference", files["first.png"],
        "--audio-setting", "origin", "--resolution", "720P", "--output", output,
    )  # fmt: skip
    assert code == EXIT_OK, capsys.readouterr().err
    submit = next(r for r in fast.requests if r.path.endswith("video-synthesis"))
    media = submit.json["input"]["media"]
    assert [(m["type"], m["url"][:6]) for m in media] == [
        ("video", "oss://"),
        ("reference_image", "oss://"),
    ]
    assert submit.json["parameters"] == {
        "resolution": "720P", "audio_setting": "origin", "prompt_extend": True,
        "watermark": False,
    }  # fmt: skip
    info = probe(MediaType.FIRST_CLIP, output.read_bytes())
    assert info.duration == pytest.approx(3, abs=0.3)
    usage = json.loads(output.with_suffix(".json").read_text())["responses"][-1]["body"]["usage"]
    assert (usage["duration"], usage["input_video_duration"]) == (6, 3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--video", "clip.mp4", "--duration", "8"],
            "The clip is 3.0 s long; an edit can cut it, not make it longer",
        ),
        (
            ["--video", "long.mp4"],
            "Clip to edit: the file is 11.0 s long; wan2.7-videoedit takes 2–10 s.",
        ),
        (
            ["--video", "clip.mp4", "--reference", "clip.mp4"],
            "Reference video: wan2.7-videoedit does not take this input.",
        ),
        (["--reference", "first.png"], "wan2.7-videoedit takes one of these sets of inputs"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v)[-40:],
)
async def test_bad_edits_exit_2_and_send_nothing(
    simulator: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    resolved = [str(files.get(a, a)) for a in argv]
    code = await generate(
        settings,
        "--model", "wan2.7-videoedit", "--prompt", "Claymation", *resolved,
        "--output", tmp_path / "never.mp4",
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert message in err
    assert simulator.requests == []


R2V = ["--model", "wan2.7-r2v", "--prompt", "Image 1 waves"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [*R2V, *["--reference", "first.png"] * 6],
            "You gave 6 references; wan2.7-r2v takes at most 5 images and clips in all.",
        ),
        (
            [*R2V, "--reference", "first.png", "--reference-voice", "2=voice.wav"],
            "Voice of reference 2: there is no reference 2 to give it to.",
        ),
        (
            [*R2V, "--reference", "clip.mp4", "--duration", "12"],
            "With a reference clip, wan2.7-r2v makes videos of 2–10 s, not 12 s.",
        ),
        (
            [*R2V, "--reference", "very-long.mp4"],
            "Reference 1: the file is 31.0 s long; wan2.7-r2v takes 1–30 s.",
        ),
        (
            [*R2V, "--reference", "first.png", "--reference-voice", "1=long.wav"],
            "Voice of reference 1: the file is 31.0 s long; wan2.7-r2v takes 1–10 s.",
        ),
        (
            [*R2V, "--reference", "voice.wav"],
            "Reference 1: “voice.wav” is neither a picture nor a video clip;",
        ),
        (
            [*R2V, "--reference", "first.png", "--reference-voice", "voice.wav"],
            "--reference-voice takes N=VALUE",
        ),
        (
            ["--model", "wan2.7-r2v", "--reference", "first.png"],
            "wan2.7-r2v makes the video from your prompt alone: write a prompt.",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v)[-40:],
)
async def test_bad_references_exit_2_and_send_nothing(
    simulator: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    def resolved(arg: str) -> str:
        number, sep, name = arg.partition("=")
        if sep and name in files:
            return f"{number}={files[name]}"
        return str(files.get(arg, arg))

    code = await generate(settings, *map(resolved, argv), "--output", tmp_path / "never.mp4")
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert message in err
    assert simulator.requests == []


async def test_generate_asks_wan26_for_a_multi_shot_video(
    fast: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "chase.mp4"
    code = await generate(
        settings,
        "--model", "wan2.6-i2v-flash", "--first-frame", files["first.png"],
        "--prompt", "A chase through the market", "--resolution", "720P",
        "--shot-type", "multi", "--seed", "42", "--output", output,
    )  # fmt: skip
    assert code == EXIT_OK, capsys.readouterr().err
    submit = next(r for r in fast.requests if r.path.endswith("video-synthesis"))
    assert submit.json["parameters"] == {
        "resolution": "720P", "duration": 5, "shot_type": "multi", "prompt_extend": True,
        "watermark": False, "seed": 42,
    }  # fmt: skip
    assert (
        json.loads(output.with_suffix(".json").read_text())["request"]["parameters"]
        == (submit.json["parameters"])
    )


async def test_an_effect_template_sends_prompt_extend_as_asked(
    fast: Simulator, settings: Settings, files: dict[str, Path], tmp_path: Path
) -> None:
    code = await generate(
        settings,
        "--model", "wanx2.1-kf2v-plus", "--first-frame", files["first.png"],
        "--template", "mech1", "--no-prompt-extend", "--output", tmp_path / "fx.mp4",
    )  # fmt: skip
    assert code == EXIT_OK
    submit = next(r for r in fast.requests if r.path.endswith("image2video/video-synthesis"))
    assert submit.json["parameters"]["prompt_extend"] is False


async def test_generate_refuses_a_retired_model_before_uploading_anything(
    fast: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings.model_copy(update={"retired_models": "wan2.6-i2v-flash"})
    code = await generate(
        settings,
        "--model", "wan2.6-i2v-flash", "--first-frame", files["first.png"],
        "--output", tmp_path / "no.mp4",
    )  # fmt: skip
    assert code == EXIT_BAD_INPUT
    assert "wan2.6-i2v-flash has been retired" in capsys.readouterr().err
    assert fast.requests == [], "nothing was uploaded or submitted"


async def test_generate_gives_up_on_answers_it_cannot_read_instead_of_hanging(
    fast: Simulator,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings.model_copy(update={"unreadable_give_up_seconds": 0.3})
    fast.script("ok", *["unreadable"] * 1000)  # the submit lands; no poll can be read
    argv = ["--model", "wan2.7-i2v", "--first-frame", "https://example.com/cat.png"]
    output = tmp_path / "never.mp4"
    # The timeout bounds the test only; the engine gives up after 0.3 s.
    code = await asyncio.wait_for(generate(settings, *argv, "--output", output), timeout=30)
    assert code == EXIT_FAILED
    assert "UnreadableAnswer" in capsys.readouterr().err
    assert not output.exists()


async def test_generate_remembers_how_long_tasks_took_for_its_next_run(
    fast: Simulator, settings: Settings, tmp_path: Path
) -> None:
    argv = ["--model", "wan2.2-kf2v-flash", "--first-frame", "https://example.com/a.png"]
    argv += ["--last-frame", "https://example.com/b.png"]
    for run in range(2):
        assert await generate(settings, *argv, "--output", tmp_path / f"{run}.mp4") == EXIT_OK
    assert fast.base_url is not None
    learned = read_durations(settings.durations_file, fast.base_url)
    assert list(learned) == [("wan2.2-kf2v-flash", "720P", 5)]
    [seconds] = learned.values()
    assert len(seconds) == 2, "the second run started from the first's"
    assert all(0 < s < 5 for s in seconds)


async def test_what_generate_learned_from_one_service_is_not_used_for_another(
    fast: Simulator, settings: Settings, tmp_path: Path
) -> None:
    argv = ["--model", "wan2.2-kf2v-flash", "--first-frame", "https://example.com/a.png"]
    argv += ["--last-frame", "https://example.com/b.png"]
    assert await generate(settings, *argv, "--output", tmp_path / "here.mp4") == EXIT_OK
    async with Simulator(replace(fast.config, running_seconds=0.5), clock=time.time) as other:
        assert other.base_url is not None
        elsewhere = settings.model_copy(update={"dashscope_base_url": other.base_url})
        assert await generate(elsewhere, *argv, "--output", tmp_path / "there.mp4") == EXIT_OK
    assert fast.base_url is not None
    kind = ("wan2.2-kf2v-flash", "720P", 5)
    [here] = read_durations(settings.durations_file, fast.base_url)[kind]
    [there] = read_durations(settings.durations_file, other.base_url)[kind]
    assert here < 0.5 <= there, "each service's own time, each learned once"


async def test_a_durations_file_of_the_old_shape_is_not_trusted(
    fast: Simulator, settings: Settings, tmp_path: Path
) -> None:
    # Written by an earlier version, for whichever service it ran against: a 338-day "task".
    old = [{"model": "wan2.2-kf2v-flash", "resolution": "720P", "duration": 5, "seconds": [3e7]}]
    settings.durations_file.parent.mkdir(parents=True)
    settings.durations_file.write_text(json.dumps(old))
    argv = ["--model", "wan2.2-kf2v-flash", "--first-frame", "https://example.com/a.png"]
    argv += ["--last-frame", "https://example.com/b.png", "--output", tmp_path / "a.mp4"]
    assert await generate(settings, *argv) == EXIT_OK
    assert fast.base_url is not None
    [seconds] = read_durations(settings.durations_file, fast.base_url).values()
    assert len(seconds) == 1 and seconds[0] < 5


async def test_urls_that_cannot_be_fetched_are_passed_through(
    fast: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "kf.mp4"
    code = await generate(
        settings,
        "--model", "wan2.2-kf2v-flash", "--first-frame", files["first.png"],
        "--last-frame", "http://127.0.0.1:9/unreachable.png", "--resolution", "480p", "--output", output,
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    assert "Could not fetch the last frame" in err
    submit = next(r for r in fast.requests if r.path.endswith("video-synthesis"))
    assert submit.json["input"]["last_frame_url"] == "http://127.0.0.1:9/unreachable.png"


async def test_a_failed_task_exits_1_with_the_providers_code(
    fast: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fast.config.failure_rate = 1.0
    output = tmp_path / "refused.mp4"
    code = await generate(
        settings, "--model", "wan2.7-i2v", "--first-frame", files["first.png"], "--output", output
    )
    err = capsys.readouterr().err
    assert code == EXIT_FAILED
    assert "DataInspectionFailed" in err and "inappropriate content" in err
    assert not output.exists()
    assert json.loads(output.with_suffix(".json").read_text())["outcome"].startswith("FAILED")


BAD_INPUTS = [
    (["--model", "wan9"], "Unknown model “wan9”; choose one of: wan2.7-i2v,"),
    (
        ["--model", "wan2.7-i2v"],
        "wan2.7-i2v takes one of these sets of inputs: First frame; ",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "missing.png"],
        "First frame: “missing.png” is not a file.",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "alpha.png"],
        "First frame: the PNG has transparency;",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "tiny.png"],
        "First frame: the width is 100 px; wan2.7-i2v needs at least 240 px.",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "wide.png"],
        "First frame: the shape is 9:1 (2700×300);",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "empty.png"],
        "First frame: the file is empty (0 bytes).",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "program.png"],
        "First frame: the file is not an image wan2.7-i2v can read;",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "truncated.png"],
        "First frame: the file is not an image wan2.7-i2v can read;",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "first.png", "--audio", "short.wav"],
        "Driving audio: the file is 1.0 s long; wan2.7-i2v takes 2–30 s.",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "first.png", "--audio", "long.wav"],
        "Driving audio: the file is 31.0 s long; wan2.7-i2v takes 2–30 s.",
    ),
    (
        ["--model", "wan2.7-i2v", "--clip", "long.mp4", "--duration", "15"],
        "First clip: the file is 11.0 s long; wan2.7-i2v takes 2–10 s.",
    ),
    (
        ["--model", "wan2.7-i2v", "--clip", "clip.mp4", "--duration", "3"],
        "choose a duration of 4–15 s",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "first.png", "--duration", "16"],
        "2–15 s, not 16 s",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "first.png", "--resolution", "480P"],
        "wan2.7-i2v does not make 480P videos",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "first.png", "--seed", "-1"],
        "from 0 to 2147483647",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "first.png", "--prompt", "x" * 5001],
        "5001 characters",
    ),
    (
        ["--model", "wan2.2-kf2v-flash", "--first-frame", "first.png"],
        "wan2.2-kf2v-flash takes these inputs: First frame + Last frame. You gave: First frame.",
    ),
    (
        [
            "--model",
            "wan2.2-kf2v-flash",
            "--first-frame",
            "first.png",
            "--last-frame",
            "last.jpg",
            "--audio",
            "voice.wav",
        ],
        "Driving audio: wan2.2-kf2v-flash does not take this input.",
    ),
    (
        ["--model", "wanx2.1-kf2v-plus", "--first-frame", "first.png", "--template", "nope"],
        "Unknown effect template",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "voice.wav"],
        "First frame: the file is not an image wan2.7-i2v can read;",
    ),
    (
        ["--model", "wan2.7-i2v", "--clip", "first.png"],
        "First clip: the file is not a video in one of these formats: MP4, MOV.",
    ),
    (
        ["--model", "wan2.7-t2v", "--duration", "5"],
        "wan2.7-t2v makes the video from your prompt alone: write a prompt.",
    ),
    (
        ["--model", "wan2.7-t2v", "--prompt", "A fox", "--audio", "long.wav"],
        "Driving audio: the file is 31.0 s long; wan2.7-t2v takes 3–30 s.",
    ),
    (
        ["--model", "wan2.7-t2v", "--prompt", "A fox", "--ratio", "21:9"],
        "wan2.7-t2v does not make 21:9 videos; choose one of: 16:9, 9:16, 1:1, 4:3, 3:4.",
    ),
    (
        ["--model", "wan2.7-t2v", "--prompt", "A fox", "--first-frame", "first.png"],
        "First frame: wan2.7-t2v does not take this input.",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "first.png", "--ratio", "1:1"],
        "wan2.7-i2v takes the shape of your picture; leave the ratio out.",
    ),
    (
        [
            "--model",
            "wan2.6-i2v-flash",
            "--first-frame",
            "first.png",
            "--shot-type",
            "multi",
            "--no-prompt-extend",
        ],
        "Multi-shot videos need the prompt extended: turn prompt_extend on, or ask for a single",
    ),
    (
        ["--model", "wan2.7-i2v", "--first-frame", "first.png", "--shot-type", "multi"],
        "wan2.7-i2v does not take a shot type; leave it out.",
    ),
]


@pytest.mark.parametrize(
    ("argv", "message"), BAD_INPUTS, ids=lambda v: v if isinstance(v, str) else " ".join(v)[:60]
)
async def test_bad_input_exits_2_with_one_line_and_sends_nothing(
    simulator: Simulator,
    settings: Settings,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    resolved = [str(files.get(a, a)) for a in argv]
    code = await generate(settings, *resolved, "--output", tmp_path / "never.mp4")
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert simulator.requests == []
    assert not (tmp_path / "never.mp4").exists()
    assert not (tmp_path / "never.json").exists()


async def test_a_model_the_region_does_not_serve_is_refused_before_anything_is_sent(
    simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(dashscope_api_key=API_KEY, credentials_file=tmp_path / "none")
    code = await generate(
        settings,
        "--model", "wan2.7-t2v", "--prompt", "A fox", "--region", "us",
        "--output", tmp_path / "o.mp4",
    )  # fmt: skip
    assert code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "wan2.7-t2v is served in Beijing and Singapore only, not the US" in err, err
    assert simulator.requests == []
    assert not (tmp_path / "o.mp4").exists()


async def test_no_key_is_bad_input(
    simulator: Simulator, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        dashscope_api_key=None,
        credentials_file=tmp_path / "none",
        dashscope_base_url=simulator.base_url,
    )
    code = await generate(
        settings,
        "--model",
        "wan2.7-i2v",
        "--first-frame",
        files["first.png"],
        "--output",
        tmp_path / "o.mp4",
    )
    assert code == EXIT_BAD_INPUT
    assert "No DashScope API key" in capsys.readouterr().err
    assert simulator.requests == []


def test_argument_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(
            ["generate", "--model", "wan2.7-i2v", "--duration", "ten", "--output", "o.mp4"]
        )
    assert exited.value.code == EXIT_BAD_INPUT
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.fixture
async def media_host() -> AsyncIterator[str]:
    """A loopback web server holding a good and a bad image, as a person's URLs would."""
    images = {
        "good.png": samples.make_image(800, 600),
        "alpha.png": samples.make_image(800, 600, alpha=True),
    }

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=images[request.match_info["name"]], content_type="image/png")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    async with TestServer(app) as server:
        yield str(server.make_url("/"))


async def test_fetchable_urls_are_checked_then_passed_through_unchanged(
    fast: Simulator,
    settings: Settings,
    media_host: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = media_host + "good.png"
    code = await generate(
        settings,
        "--model",
        "wan2.6-i2v-flash",
        "--first-frame",
        url,
        "--output",
        tmp_path / "u.mp4",
    )
    assert code == EXIT_OK, capsys.readouterr().err
    submit = next(r for r in fast.requests if r.path.endswith("video-synthesis"))
    assert submit.json["input"]["img_url"] == url
    assert "X-DashScope-OssResourceResolve" not in submit.headers
    assert not any(r.path == "/api/v1/uploads" for r in fast.requests)


async def test_a_bad_image_behind_a_url_is_refused_before_sending(
    simulator: Simulator,
    settings: Settings,
    media_host: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await generate(
        settings,
        "--model",
        "wan2.7-i2v",
        "--first-frame",
        media_host + "alpha.png",
        "--output",
        tmp_path / "a.mp4",
    )
    assert code == EXIT_BAD_INPUT
    assert "transparency" in capsys.readouterr().err
    assert simulator.requests == []
