"""A busy port, said at once and plainly.

gunicorn retries a busy address five times, a second apart, then exits with
"Connection in use". ``make run`` asks :func:`busy` before it migrates
(``python -m config.ports 127.0.0.1:8000``), and ``gunicorn.conf.py`` asks
again before gunicorn binds, so the answer comes in well under a second and
says what to do.
"""

from __future__ import annotations

import socket
import sys


def busy(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (with the fix), or None if it can.

    The socket is bound the way gunicorn binds (``SO_REUSEADDR``), so a port
    whose last connections are in TIME_WAIT counts as free, as it is for gunicorn.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return (
                f"cannot listen on {host}:{port}: {error.strerror or error}. "
                f"Stop the server that holds it, or choose another port: PORT={port + 1} make run"
            )
    return None


def main(argv: list[str]) -> int:
    host, _, port = argv[0].rpartition(":")
    reason = busy(host.strip("[]"), int(port))
    if reason:
        print(reason, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
