"""The DashScope adapter: an aiohttp client and the pydantic models of its answers."""

from bot.dashscope.client import DashScopeClient, DashScopeError, RetryPolicy
from bot.dashscope.models import TaskList, TaskResponse, TaskStatus, UploadPolicy

__all__ = [
    "DashScopeClient",
    "DashScopeError",
    "RetryPolicy",
    "TaskList",
    "TaskResponse",
    "TaskStatus",
    "UploadPolicy",
]
