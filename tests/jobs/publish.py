"""A publisher process: ``python -m tests.jobs.publish REQUEST_ID COUNT QUEUE``.

Sends COUNT ``jobs.log_and_return`` tasks tagged ``REQUEST_ID:i`` from inside
``bind(request_id=REQUEST_ID)``, as a web worker would from inside a request.
"""

from __future__ import annotations

import sys

from django_lantern import bind
from tests.jobs.celery_app import log_and_return


def main(request_id: str, count: int, queue: str) -> None:
    with bind(request_id=request_id):
        for i in range(count):
            log_and_return.apply_async((f"{request_id}:{i}",), queue=queue)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
