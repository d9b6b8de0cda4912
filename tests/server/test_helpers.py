"""The real-server test helpers clean up after themselves."""

from __future__ import annotations

import re

import pytest

from tests.helpers.servers import run_server


@pytest.mark.server
def test_the_log_file_is_removed_and_its_output_kept() -> None:
    """After the server stops its temporary log file is gone, and what it wrote is still readable."""
    with run_server("uvicorn") as server:
        log_path = server.log_path
        assert log_path.exists()
    assert not log_path.exists(), f"{log_path} left behind"
    assert "Uvicorn running" in server.output() or "Application startup complete" in server.output()


@pytest.mark.server
@pytest.mark.services
def test_a_celery_worker_uses_redis_urls_database_and_leaves_no_key_behind() -> None:
    """The broker is REDIS_URL's own database; kombu's keys for the worker's queue are gone after it."""
    import redis

    from tests.helpers.services import require_redis
    from tests.jobs.worker import BINDING_DEADLINES, broker_url, run_worker

    redis_url = require_redis()
    broker = broker_url(redis_url)
    assert broker == redis_url
    client = redis.Redis.from_url(broker)
    before = set(client.scan_iter())
    with run_worker(broker, pool="solo") as worker:
        assert any(worker.queue in key.decode() for key in client.scan_iter(match="_kombu.binding*"))
    # The broker's keys only: the example's cache shares this database, and a lantern process
    # of another test (its operations page's flush thread) may write there meanwhile.
    cache_keys = re.compile(r"[^:]+:\d+:lantern:")
    left = {key.decode() for key in set(client.scan_iter()) - before}
    left = {key for key in left if not cache_keys.match(key)}
    assert left == set(), f"left in {broker}: {left}"
    for exchange in client.zrange(BINDING_DEADLINES, 0, -1):
        assert client.exists(f"_kombu.binding.{exchange.decode()}"), f"stale deadline {exchange!r}"
    client.close()
