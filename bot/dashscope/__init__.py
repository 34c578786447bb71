"""The DashScope adapter: an aiohttp client and the pydantic models of its answers."""

from bot.dashscope.client import DashScopeClient
from bot.dashscope.errors import DashScopeError
from bot.dashscope.models import TaskList, TaskResponse, TaskStatus, UploadPolicy
from bot.net.retry import RetryPolicy

__all__ = [
    "DashScopeClient",
    "DashScopeError",
    "RetryPolicy",
    "TaskList",
    "TaskResponse",
    "TaskStatus",
    "UploadPolicy",
]
