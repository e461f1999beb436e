"""Verifying a caller: the answers a caller gives, checked against the record an identifier they said matched.

When a caller reads out an account number, phone number or e-mail address that belongs to a record,
the memory layer discloses nothing of that record until the tenant's verification policy is met
(see ``memory.MemoryPolicy.verification``); the brief then says a record matches and what to ask.
``verify_caller`` passes the caller's answers to the memory layer, which compares them with what
the tenant keeps (the name as recorded; digests of a postcode, PIN or date of birth): the model
never sees the record's values, only whether the caller is verified.
"""

from __future__ import annotations

import logging

from livekit.agents import RunContext, ToolError, function_tool, llm

from memory import Verification

from .context import CallData

__all__ = ["VERIFY_TOOLS", "verification_answer", "verify_caller"]

logger = logging.getLogger("tools.verify")

_ASKS = {
    "name": "their full name",
    "postcode": "their postcode",
    "pin": "their PIN",
    "date_of_birth": "their date of birth",
}
_NO_DISCLOSURE = "Do not disclose, confirm or discuss anything about that record."


def verification_answer(result: Verification) -> str:
    """What ``verify_caller`` tells the model for a verification result (never a record's value)."""
    asks = " or ".join(_ASKS[a] for a in result.asks if a in _ASKS)
    if result.status == "verified":
        return "Verified. The caller's history is now in the caller memory; you may use it."
    if result.status == "not_verified":
        again = f" You may ask once more, for {asks}." if asks and result.attempts_left else ""
        return (
            f"Not verified: the answers do not match the record, or are not enough "
            f"({result.attempts_left} attempt(s) left). {_NO_DISCLOSURE}{again}"
        )
    if result.status == "locked":
        return f"Not verified, and no more attempts on this call. {_NO_DISCLOSURE} Help without the record."
    if result.status == "nothing_to_verify":
        return "There is no caller record waiting for verification on this call."
    return f"Verification is not available right now. {_NO_DISCLOSURE}"


@function_tool
async def verify_caller(
    context: RunContext[CallData],
    full_name: str = "",
    postcode: str = "",
    pin: str = "",
    date_of_birth: str = "",
) -> str:
    """Verify the caller when the caller memory says a record matches but the caller must be verified
    first. Pass only what the caller said in answer; leave the rest empty. You are never told the
    record's details: the result says whether the caller is verified.

    Args:
        full_name: The caller's full name, as they said it.
        postcode: The postcode the caller gave.
        pin: The PIN the caller gave.
        date_of_birth: The caller's date of birth, as YYYY-MM-DD.
    """
    memory = context.userdata.memory
    if memory is None or memory.forgotten:
        raise ToolError("Verification is not available on this call. Do not disclose anything about any record.")
    given = {"name": full_name, "postcode": postcode, "pin": pin, "date_of_birth": date_of_birth}
    answers = {factor: value.strip() for factor, value in given.items() if value and value.strip()}
    if not answers:
        return "No answer was given: ask the caller first, then call verify_caller with what they said."
    try:
        result = await memory.verify(answers)
    except Exception as exc:
        logger.warning("verify_caller failed: %s", type(exc).__name__)
        raise ToolError(f"Verification failed. {_NO_DISCLOSURE}") from exc
    logger.info("verification: %s", result.status)
    return verification_answer(result)


VERIFY_TOOLS: list[llm.Tool] = [verify_caller]
