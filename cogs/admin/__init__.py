"""/videoadmin: moderators manage quotas and the server's settings.

The commands live in `quota.py`, `usage.py` and `settings.py`; `base.py` holds the command groups,
the moderator check that every command runs first, and the one sequence every change follows.
Their words are in cogs/render/moderator.py. (No module here imports this package: it imports them.)
"""

from __future__ import annotations

from cogs.admin.quota import QuotaCommands
from cogs.admin.settings import SettingsCommands
from cogs.admin.usage import UsageCommands


class AdminCog(QuotaCommands, UsageCommands, SettingsCommands):
    """/videoadmin quota … and /videoadmin settings …, for moderators."""
