"""Function tools of the support agent, one module per domain. Tools reach the call through
``RunContext[CallData]``."""

from livekit.agents import llm

from .context import CallData
from .memory_tools import MEMORY_TOOLS, forget_me, open_matters, recall_issue, remember_this, search_memory
from .verify import VERIFY_TOOLS, verify_caller

ALL_TOOLS: list[llm.Tool] = [*MEMORY_TOOLS, *VERIFY_TOOLS]

__all__ = [
    "ALL_TOOLS",
    "MEMORY_TOOLS",
    "VERIFY_TOOLS",
    "CallData",
    "forget_me",
    "open_matters",
    "recall_issue",
    "remember_this",
    "search_memory",
    "verify_caller",
]
