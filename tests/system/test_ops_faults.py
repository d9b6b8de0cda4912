"""The operations page when Redis (its shared cache) fails, under gunicorn with two workers.

Redis is reached through a loopback fault proxy (tests/system/faults.py). With
it refused, then black-holed, every other page of the example answers as it
did before (the page's recording writes to the cache only from its flush
thread), while the operations page answers 200 and says the cache is
unavailable.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.system import faults, support
from tests.system.conftest import Services

pytestmark = pytest.mark.system

# The example's pages a visitor and a staff member reach, besides /readyz (which is meant to say the cache is down).
PAGES = ("/", "/accounts/login/", "/orgs/", "/admin/", "/healthz", "/metrics", "/statusz", "/no-such-page/")
UNAVAILABLE = "The cache is unavailable"

SESSION_FOR_STAFF = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user, _ = get_user_model().objects.get_or_create(username="ops-fault", defaults={"is_staff": True})
user.is_staff = True
user.set_password("ops-fault-password")
user.save()
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def _staff_session(env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(support.BIN / "python"), "manage.py", "shell", "-c", SESSION_FOR_STAFF],
        cwd=support.EXAMPLE,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout.strip().splitlines()[-1]


def _statuses(client: httpx.Client) -> dict[str, int]:
    return {path: client.get(path).status_code for path in PAGES}


@pytest.mark.parametrize("fault", ["refuse", "black_hole"])
def test_redis_down_leaves_every_other_page_answering_and_the_ops_page_says_so(
    env: dict[str, str], services: Services, fault: str
) -> None:
    session = _staff_session({**env, "DATABASE_URL": services.database_url})
    with (
        faults.proxied(env, services) as net,
        support.serve("gunicorn", net.env, args=support.gunicorn_args(workers=2)) as server,
        httpx.Client(base_url=server.url, timeout=10, cookies={"sessionid": session}) as client,
    ):
        healthy = client.get("/ops/")
        assert healthy.status_code == 200 and UNAVAILABLE not in healthy.text
        before = _statuses(client)
        assert before["/"] == before["/orgs/"] == before["/admin/"] == 200, before
        getattr(net.redis, fault)()
        after = _statuses(client)
        page = client.get("/ops/")
        net.redis.forward()
    assert after == before
    assert page.status_code == 200
    assert UNAVAILABLE in page.text and "The application is not affected" in page.text
    # Without the cache the page still shows this worker's live totals.
    assert 'id="total-requests"' in page.text
