"""What the DashScope client's tests share: the simulator's test key, a sleep that records its
delays, and small requests."""

from __future__ import annotations

from bot.domain.catalog import MediaType
from bot.domain.requests import GenerationRequest, MediaItem

API_KEY = "sk-test-0123456789abcdef"


class RecordedSleeps:
    """Stands in for asyncio.sleep in retry loops: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


IMAGE_URL = "https://example.com/first.png"


def build(model: str, media: dict[MediaType, str], **fields: object) -> GenerationRequest:
    items = tuple(MediaItem(type=t, url=url) for t, url in media.items())
    return GenerationRequest.build(model=model, media=items, **fields)
