"""`python -m bot demo-scale` end to end: two workers, the scheduler killed half way, every job
delivered once; and nothing left running afterwards (workers, PostgreSQL server)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.dev.local_cluster import Worker
from tests.support import ROOT

DEADLINE_S = 180  # the demo takes ~15–30 s; this is a deadline, not a pace


def running_with(text: str) -> list[int]:
    """Pids of live processes whose command line mentions `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    )


def test_demo_scale_survives_the_scheduler_being_killed(tmp_path: Path) -> None:
    output = tmp_path / "demo-scale"
    output.mkdir()
    (output / "job-1.mp4").write_bytes(b"from an earlier run")  # must not pass for job 1's video

    # Run from the test's folder with the folder given relative to it, as a person would type it.
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo-scale", "--output-dir", "demo-scale"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    text = done.stdout
    assert done.returncode == 0, text + done.stderr

    killed = re.search(r"Killing (\w) \(pid (\d+)\), the scheduler", text)
    assert killed, text
    name = killed.group(1)
    standby = "B" if name == "A" else "A"
    # The standby took over, and the killed worker came back as the new standby.
    assert re.search(rf"{standby} \(pid \d+\) is the scheduler now", text.split("Killing")[1])
    assert re.search(rf"Worker {name} \(pid \d+\) started: standing by", text.split("Killing")[1])
    # Each video written once (a process killed right after writing one could not say so; the
    # summary then names the process that found it).
    written = [int(job) for job in re.findall(r"Job #(\d+) delivered by \w \(pid", text)]
    assert len(written) == len(set(written)) and set(written) <= set(range(1, 9))
    assert "8 of 8 jobs delivered exactly once and charged once" in text

    videos = sorted(output.glob("job-*.mp4"))
    assert [v.name for v in videos] == [f"job-{n}.mp4" for n in range(1, 9)]
    assert all(v.stat().st_size > 1000 for v in videos)
    assert not list(output.glob("job-*.failed.txt"))

    # Cleaned up: every worker process and the PostgreSQL server are gone with their folder.
    for pid in {int(p) for p in re.findall(r"\(pid (\d+)\)", text)}:
        assert not alive(pid), f"worker {pid} still running"
    server = re.search(r"PostgreSQL at \S+host=(/\S+)", text)
    assert server, text
    assert not Path(server.group(1)).exists()
    assert running_with(server.group(1)) == []


def test_a_worker_child_gets_only_the_settings_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set where the demo runs, these would send its workers to a real account or database.
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "https://dashscope.aliyuncs.com/api/v1")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-real")
    monkeypatch.setenv("WANBOT_DATABASE_URL", "postgresql://real/wanbot")
    monkeypatch.setenv("DISCORD_TOKEN", "real")
    worker = Worker(
        "A",
        database_url="postgresql://postgres:@/postgres?host=/tmp/x",
        api_base_url="http://127.0.0.1:8765/api/v1",
        api_key="demo-key",
        output_dir=tmp_path / "out",
        folder=tmp_path / "workers",
        settings={"WANBOT_TICK_SECONDS": "1"},
    )

    env = worker.environment()

    ours = {k: v for k, v in env.items() if k.startswith(("WANBOT_", "DASHSCOPE_", "DISCORD_"))}
    assert ours == {
        "WANBOT_DATABASE_URL": "postgresql://postgres:@/postgres?host=/tmp/x",
        "DASHSCOPE_API_KEY": "demo-key",
        "DASHSCOPE_BASE_URL": "http://127.0.0.1:8765/api/v1",
        "WANBOT_SPOOL_DIR": str(tmp_path / "workers" / "A-spool"),
        "WANBOT_TICK_SECONDS": "1",
    }
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
