"""/videoadmin: moderators manage quotas and the server's settings.

The commands live in `quota.py`, `usage.py` and `settings.py`; `base.py` holds the command groups
and the moderator check that every command runs first.
"""

from __future__ import annotations

from cogs.admin.quota import QuotaCommands
from cogs.admin.settings import SettingsCommands
from cogs.admin.usage import UsageCommands


class AdminCog(QuotaCommands, UsageCommands, SettingsCommands):
    """/videoadmin quota … and /videoadmin settings …, for moderators."""
