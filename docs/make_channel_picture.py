"""Make docs/bot-at-work.png: the bot at work in a channel, drawn from the fake Discord's messages.

Runs the real bot (discord.py's gateway and REST against tests/support/fakediscord, the built-in DashScope
simulator), has a member ask `/video animate` with a picture and a prompt, waits until the video is
posted, then draws what the channel holds: the command's use, the status message as the bot last
edited it, and the video replying to it (its first frame, as the simulator made it from the
picture) with its buttons. Drawn with Pillow in Discord's dark colours; it is labelled as a drawing,
not a screenshot of Discord.

    python docs/make_channel_picture.py
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed copy

import av  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from bot.media import samples  # noqa: E402
from bot.media.probe import check_media  # noqa: E402
from bot.simulator import Simulator, SimulatorConfig  # noqa: E402
from tests.support.fakediscord import FakeDiscord, Message  # noqa: E402
from tests.support.fakediscord.wanbot import (  # noqa: E402
    fast_settings,
    result_messages,
    running_bot,
    status_messages,
    status_text,
)

OUT = ROOT / "docs" / "bot-at-work.png"
WIDTH = 900
BACKGROUND, EMBED, TEXT, MUTED, NAME = "#313338", "#2b2d31", "#dbdee1", "#949ba4", "#f2f3f5"
BLURPLE, BUTTON = "#5865f2", "#4e5058"
PROMPT = "a paper boat drifting on a calm lake at sunset"
LABEL = "Drawn from the fake Discord's messages (tests/support/fakediscord) after a real run; not a screenshot."


def font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    family = font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")
    return ImageFont.truetype(font_manager.findfont(family), size)


async def run() -> tuple[Message, Message, bytes]:
    """Ask for one video through the fake Discord; return the status message, the post and the
    posted video's bytes."""
    config = SimulatorConfig(pending_seconds=0.5, running_seconds=1.0, media_checker=check_media)
    with tempfile.TemporaryDirectory() as folder:
        async with (
            FakeDiscord() as fake,
            Simulator(config) as simulator,
            running_bot(fake, simulator, fast_settings(Path(folder))) as running,
        ):
            image = fake.upload("lake.png", samples.make_image(1280, 720, hue=1), "image/png")
            await fake.slash("video", "animate", image=image, prompt=PROMPT, duration=5)
            await fake.wait_for(
                lambda: bool(done(fake)), within=60, what="the video and a Done status"
            )
            await running.bot.engine.settle()
            status, post = done(fake)
            return status, post, post.attachments[0].data


def done(fake: FakeDiscord) -> tuple[Message, Message] | None:
    for post in fake.channel_messages():
        job = next((int(c.split(":")[2]) for c in post.custom_ids() if c.startswith("wanbot:")), 0)
        if post.attachments and job:
            statuses = [s for s in status_messages(fake, job) if status_text(s) == "Done"]
            if statuses and result_messages(fake, job):
                return statuses[0], post
    return None


def first_frame(video: bytes, width: int) -> Image.Image:
    with av.open(io.BytesIO(video)) as container:
        frame = next(container.decode(video=0)).to_image()
    return frame.resize((width, round(frame.height * width / frame.width)))


def wrap(
    draw: ImageDraw.ImageDraw, text: str, face: ImageFont.FreeTypeFont, width: int
) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if draw.textlength(candidate, font=face) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def draw_embed(
    canvas: Image.Image, draw: ImageDraw.ImageDraw, embed: dict[str, Any], x: int, y: int
) -> int:
    """Draw an embed at (x, y) as Discord lays it out (inline fields three to a row); return
    the y below it."""
    width, pad = 560, 14
    inner = width - 2 * pad
    body, bold, small = font(15), font(15, bold=True), font(13)
    cursor = y + pad
    ops: list[tuple[int, int, str, ImageFont.FreeTypeFont, str]] = []  # x, y, text, face, colour

    def block(text: str, face: ImageFont.FreeTypeFont, colour: str, left: int, room: int) -> int:
        height = 0
        for line in wrap(draw, text, face, room):
            ops.append((left, cursor + height, line, face, colour))
            height += face.size + 6
        return height

    if embed.get("title"):
        cursor += block(embed["title"], font(16, bold=True), NAME, x + pad + 4, inner) + 2
    if embed.get("description"):
        cursor += block(embed["description"], body, TEXT, x + pad + 4, inner) + 6
    fields = list(embed.get("fields", ()))
    while fields:
        row = [fields.pop(0)]
        while row[0].get("inline") and fields and fields[0].get("inline") and len(row) < 3:
            row.append(fields.pop(0))
        column = inner // len(row)
        tallest = 0
        for index, embed_field in enumerate(row):
            left = x + pad + 4 + index * column
            name = block(embed_field["name"], bold, NAME, left, column - 10)
            cursor += name
            value = block(mentioned(str(embed_field["value"])), body, TEXT, left, column - 10)
            cursor -= name
            tallest = max(tallest, name + value)
        cursor += tallest + 8
    if embed.get("footer", {}).get("text"):
        cursor += block(embed["footer"]["text"], small, MUTED, x + pad + 4, inner)
    height = cursor + pad - y
    colour = f"#{embed.get('color', 0x5865F2):06x}"
    draw.rounded_rectangle((x, y, x + width, y + height), radius=6, fill=EMBED)
    draw.rectangle((x, y, x + 4, y + height), fill=colour)
    for left, top, text, face, text_colour in ops:
        draw.text((left, top), text, font=face, fill=text_colour)
    return y + height


def mentioned(text: str) -> str:
    """A mention as Discord shows it: the member's name."""
    return re.sub(r"<@!?\d+>", "@alice", text)


def draw_buttons(draw: ImageDraw.ImageDraw, post: Message, x: int, y: int) -> int:
    face = font(14, bold=True)
    for row in post.components:
        for button in row.get("components", ()):
            label = button.get("label") or ""
            emoji = (button.get("emoji") or {}).get("name") or ""
            text = f"{emoji} {label}".strip() if emoji.isascii() else label
            width = int(draw.textlength(text, font=face)) + 28
            draw.rounded_rectangle((x, y, x + width, y + 32), radius=4, fill=BUTTON)
            draw.text((x + 14, y + 8), text, font=face, fill=NAME)
            x += width + 8
    return y + 32


def author(draw: ImageDraw.ImageDraw, x: int, y: int, name: str, colour: str, bot: bool) -> None:
    draw.ellipse((x - 56, y, x - 16, y + 40), fill=colour)
    draw.text((x, y), name, font=font(16, bold=True), fill=NAME)
    if bot:
        tag_x = x + draw.textlength(name, font=font(16, bold=True)) + 8
        draw.rounded_rectangle((tag_x, y + 2, tag_x + 34, y + 18), radius=3, fill=BLURPLE)
        draw.text((tag_x + 5, y + 3), "BOT", font=font(11, bold=True), fill="white")


def picture(status: Message, post: Message, video: bytes) -> Image.Image:
    canvas = Image.new("RGB", (WIDTH, 1400), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    x, y = 80, 24
    draw.text((x, y), f"alice used /video animate · prompt: {PROMPT}", font=font(13), fill=MUTED)
    y += 28
    author(draw, x, y, "wanbot", BLURPLE, True)
    y = draw_embed(canvas, draw, status.embeds[0], x, y + 26) + 28
    draw.text((x, y), "↳ replying to the status above", font=font(13), fill=MUTED)
    y += 22
    author(draw, x, y, "wanbot", BLURPLE, True)
    y += 26
    for line in wrap(draw, mentioned(post.content), font(15), 720):
        draw.text((x, y), line, font=font(15), fill=TEXT)
        y += 22
    frame = first_frame(video, 480)
    canvas.paste(frame, (x, y + 6))
    centre = (x + frame.width // 2, y + 6 + frame.height // 2)
    draw.ellipse((centre[0] - 28, centre[1] - 28, centre[0] + 28, centre[1] + 28), fill="#000000")
    draw.polygon(
        [
            (centre[0] - 9, centre[1] - 14),
            (centre[0] - 9, centre[1] + 14),
            (centre[0] + 15, centre[1]),
        ],
        fill="white",
    )
    y = draw_buttons(draw, post, x, y + frame.height + 16) + 24
    draw.text((24, y), LABEL, font=font(12), fill=MUTED)
    return canvas.crop((0, 0, WIDTH, y + 30))


def main() -> None:
    status, post, video = asyncio.run(run())
    picture(status, post, video).save(OUT, optimize=True)
    print(OUT)


if __name__ == "__main__":
    main()
