"""The same calls on the production backend: Postgres for memory, Redis for prepared preloads.
Skipped when the servers are unreachable (failed in CI, see tests/conftest.py)."""

from __future__ import annotations

import uuid

import pytest

from .conftest import placed_call
from .fakes import ScriptedProviders, sip_caller, system_text
from .test_call_text import ACME_LINE, callers_of, events_of, support_llm

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_a_returning_caller_from_another_phone_on_postgres_and_redis(
    make_deps, postgres_database: str, redis_url: str
) -> None:
    # numbers of this test alone: the database is shared by the whole run
    suffix = uuid.uuid4().int % 10_000
    mobile, office = f"+1415556{suffix:04d}", f"+1415557{suffix:04d}"
    account = f"9{suffix:04d}001"
    providers = ScriptedProviders(support_llm)
    deps = make_deps(providers, url=postgres_database, redis_url=redis_url)
    async with placed_call(deps, sip_caller(mobile, ACME_LINE, call_id=f"SCL_pg1_{suffix}"), job_id="pg-1") as call:
        await call.session.run(
            user_input=f"Hi, my name is Dana Reyes. I was charged twice. My account number is {account}."
        )

    async with placed_call(deps, sip_caller(mobile, ACME_LINE, call_id=f"SCL_pg2_{suffix}"), job_id="pg-2") as call:
        assert call.memory is not None and "ticket 8842" in call.memory.brief
        result = await call.session.run(user_input="What happened with my refund?")
        assert "ticket 8842" in events_of(result)[-1][1]

    async with placed_call(deps, sip_caller(office, ACME_LINE, call_id=f"SCL_pg3_{suffix}"), job_id="pg-3") as call:
        assert call.memory is not None and call.memory.brief == ""
        await call.session.run(user_input=f"This is Dana Reyes, my account number is {account}.")
        assert "ticket 8842" in system_text(providers.last_llm.requests[-1])

    office_caller, mobile_caller = await callers_of(deps, office, mobile)
    assert office_caller == mobile_caller
