"""/video: what members use (the commands, the buttons on their videos, and the way a video goes).

`commands` holds the /video group, `buttons` what Retry, Extend, Animate last frame and Cancel do,
`menus` the message menus (right-click a message → Apps → Animate this image, Continue this clip),
`remix` the Remix button and its form, `flow` the way every new video goes (admit → defer → stage
→ queue → reply), `options` what
Discord hands a command, as the intake takes it.
"""

from __future__ import annotations

from cogs.served import ServedBot
from cogs.video.commands import VideoCog
from cogs.video.menus import VideoMenus


async def setup(bot: ServedBot) -> None:
    """Add the /video cog and the message menus (discord.py's extension entry:
    `bot.load_extension("cogs.video")`)."""
    await bot.add_cog(VideoCog(bot))
    await bot.add_cog(VideoMenus(bot))
