"""A loopback TCP proxy that makes network faults without touching the server behind it.

Modes, switchable at any time:

- ``forward()``: relay bytes both ways (new connections get a fresh upstream);
- ``refuse()``: the listening socket is closed, so connecting fails with
  ECONNREFUSED, and every open connection is reset, as when the server stops;
- ``black_hole()``: open connections go silent (nothing relayed either way,
  the upstream side is closed, the client's bytes are read and dropped), and
  new connections are accepted and never answered.

Connections silenced by a black hole stay silent after ``forward()`` (unless
``forward(reset_silenced=True)``): their flows are lost, as behind a NAT or load balancer that forgot them, and only a
client that gives up on them (or a new connection) gets through. That is the
case where a client without its own bound waits in ``recv`` until the kernel
gives up (about 15 minutes).

One selector thread does all the relaying; every socket is on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from dataclasses import dataclass


@dataclass(eq=False)
class _Link:
    client: socket.socket
    upstream: socket.socket | None
    silent: bool = False


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN: the peer sees "connection reset"."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = "forward"
        self.accepted = 0
        self.max_open = 0
        self._links: dict[socket.socket, _Link] = {}  # both ends of a link map to it
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self.port = self._listen(0)
        self._thread = threading.Thread(target=self._loop, name="fault-proxy", daemon=True)

    # -- control -----------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for sock in list(self._links):
                with contextlib.suppress(OSError):
                    sock.close()
            self._links.clear()
            if self._listener is not None:
                self._listener.close()
        self._selector.close()

    def forward(self, *, reset_silenced: bool = False) -> None:
        """Relay new connections again; ``reset_silenced`` also resets the connections a black hole
        silenced (the server forgot them), instead of leaving them silent."""
        with self._lock:
            self.mode = "forward"
            self._ensure_listening()
            if reset_silenced:
                for link in {link for link in self._links.values() if link.silent}:
                    self._drop(link, reset=True)

    def black_hole(self) -> None:
        with self._lock:
            self.mode = "black_hole"
            self._ensure_listening()
            for link in set(self._links.values()):
                self._silence(link)

    def refuse(self) -> None:
        with self._lock:
            self.mode = "refuse"
            if self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
                self._listener = None
            for link in set(self._links.values()):
                self._drop(link, reset=True)

    @property
    def open_now(self) -> int:
        """Client connections open through the proxy right now (silenced ones included)."""
        with self._lock:
            return len({id(link) for link in self._links.values()})

    # -- internals (the lock is held) ------------------------------------------

    def _listen(self, port: int) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ)
        self._listener = listener
        return int(listener.getsockname()[1])

    def _ensure_listening(self) -> None:
        if self._listener is None:
            self._listen(self.port)

    def _silence(self, link: _Link) -> None:
        if link.silent:
            return
        link.silent = True
        if link.upstream is not None:
            self._links.pop(link.upstream, None)
            self._selector.unregister(link.upstream)
            link.upstream.close()
            link.upstream = None

    def _drop(self, link: _Link, *, reset: bool = False) -> None:
        for sock in (link.client, link.upstream):
            if sock is None or self._links.pop(sock, None) is None:
                continue
            self._selector.unregister(sock)
            if reset:
                _reset(sock)
            else:
                sock.close()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        self.accepted += 1
        upstream = None
        if self.mode == "forward":
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                _reset(client)
                return
        link = _Link(client, upstream, silent=upstream is None)
        for sock in (client, upstream):
            if sock is not None:
                sock.settimeout(5)  # sends only: recv happens when the selector says readable
                self._links[sock] = link
                self._selector.register(sock, selectors.EVENT_READ)
        self.max_open = max(self.max_open, len({id(v) for v in self._links.values()}))

    def _relay(self, sock: socket.socket) -> None:
        link = self._links.get(sock)
        if link is None:
            return
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(link)
            return
        if link.silent:
            return  # swallowed
        other = link.upstream if sock is link.client else link.client
        try:
            assert other is not None
            other.sendall(data)
        except OSError:
            self._drop(link)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                ready = self._selector.select(timeout=0) if self._selector.get_map() else []
                for key, _ in ready:
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept()
                    else:
                        self._relay(sock)
            if not ready:
                # Wait for activity outside the lock, so mode switches are never delayed.
                with contextlib.suppress(Exception):  # the selector may change under us; the next turn rereads it
                    self._selector.select(timeout=0.02)
