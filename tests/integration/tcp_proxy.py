"""A TCP proxy on 127.0.0.1 that a test can cut or black-hole, to play a failing network to a database.

- ``restore()``: bytes flow both ways (the default).
- ``cut()``: every open connection is closed and new ones are closed at once (a crash, a reset).
- ``blackhole()``: connections stay open and new ones are accepted, but nothing is ever answered
  (a hung server, a firewall dropping packets after the handshake).
"""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; see the module docstring."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.mode = "pass"
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="tcp-proxy-accept", daemon=True).start()

    def restore(self) -> None:
        self.mode = "pass"

    def blackhole(self) -> None:
        self.mode = "blackhole"

    def cut(self) -> None:
        self.mode = "cut"
        with self._lock:
            victims, self._open = list(self._open), set()
        for sock in victims:
            _close(sock)

    def close(self) -> None:
        self.cut()
        _close(self._listener)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.mode == "cut":
                _close(client)
                continue
            if self.mode == "blackhole":  # accepted, never answered (no upstream needed)
                with self._lock:
                    self._open.add(client)
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket | None) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data or self.mode == "cut":
                _close(src)
                if dst is not None:
                    _close(dst)
                return
            if self.mode == "blackhole" or dst is None:
                continue  # swallowed: the other side waits forever
            try:
                dst.sendall(data)
            except OSError:
                _close(src)
                return


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
