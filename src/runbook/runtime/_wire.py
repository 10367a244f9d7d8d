"""How requests and results cross the pipe to a candidate's worker process: a serializer and frames.

A serializer turns one object into frames (bytes-like objects) and back. The default pickles
with protocol 5 and sends every buffer that supports it (numpy arrays, ``bytearray``) as its own
frame, out of band: the array's memory is written to the pipe straight from the array, never
copied into the pickle first, and read back into a fresh writable buffer the new array uses as is.

A component may supply its own serializer (``Router(serializer=...)``): any picklable object with
``dumps(obj) -> list of bytes-like`` and ``loads(list of bytes-like) -> obj``. The worker receives
it when it starts, so it must be importable there (a module-level class, not a lambda).

A message on the socket is: its length (8 bytes), the frame count, each frame's size (8 bytes
each, little-endian), then the frames back to back. A small message (up to 256 KiB) is written
with one ``sendall`` (the copy costs less than the calls it saves); a larger one writes each frame
straight from its buffer. The reader reads the length, then the whole rest into one fresh buffer
(two system calls for a small message, every one of them in C with the GIL released), and hands
out the frames as slices of it: writable, so a numpy array built on one may be used as scratch.
"""

from __future__ import annotations

import pickle
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["PickleSerializer", "Serializer", "receive", "send", "send_record", "split_records"]

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_INLINE_MAX = 256 << 10


class Serializer(Protocol):
    """Turns an object into frames and back (see the module docstring)."""

    def dumps(self, obj: Any) -> Sequence[Any]: ...

    def loads(self, frames: Sequence[Any]) -> Any: ...


class PickleSerializer:
    """Pickle protocol 5, buffers out of band (numpy arrays cross without an extra copy)."""

    __slots__ = ()

    def dumps(self, obj: Any) -> list[Any]:
        buffers: list[pickle.PickleBuffer] = []
        head = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        return [head, *(buffer.raw() for buffer in buffers)]

    def loads(self, frames: Sequence[Any]) -> Any:
        return pickle.loads(frames[0], buffers=frames[1:])


def send(sock: socket.socket, frames: Sequence[Any]) -> None:
    """Write ``frames`` as one message (raises OSError if the peer is gone)."""
    sizes = [memoryview(frame).nbytes for frame in frames]
    header = struct.pack(f"<{len(sizes) + 1}Q", len(sizes), *sizes)
    length = _U64.pack(len(header) + sum(sizes))
    if sum(sizes) <= _INLINE_MAX:
        sock.sendall(b"".join((length, header, *frames)))
        return
    sock.sendall(length + header)
    for frame in frames:
        sock.sendall(frame)


def receive(sock: socket.socket, timeout_s: float | None = None) -> list[Any]:
    """Read one message written by ``send``; ``timeout_s`` bounds the wait for all of it.

    Raises TimeoutError when it has not all come within ``timeout_s``, EOFError when the peer closed
    the socket (or died), OSError on other failures.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    (length,) = _U64.unpack(_read(sock, _U64.size, deadline))
    body = _read(sock, length, deadline)
    (count,) = _U64.unpack_from(body)
    sizes = struct.unpack_from(f"<{count}Q", body, _U64.size)
    view, offset = memoryview(body), _U64.size * (count + 1)
    frames = []
    for size in sizes:
        frames.append(view[offset : offset + size])
        offset += size
    return frames


def _read(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("message not complete within its budget")
            sock.settimeout(remaining)
        received = sock.recv_into(view[got:])
        if received == 0:
            raise EOFError("the peer closed the socket")
        got += received
    if deadline is not None:
        sock.settimeout(None)
    return buffer



def send_record(sock: socket.socket, record: bytes) -> None:
    """Write one record: its length (4 bytes, little-endian), then its bytes (one ``sendall``)."""
    sock.sendall(_U32.pack(len(record)) + record)


def split_records(buffer: bytearray) -> list[bytes]:
    """The whole records at the front of ``buffer`` (bytes read as they came, written by
    ``send_record``); what they took is removed from ``buffer``, a partial record left in it."""
    records, offset, end = [], 0, len(buffer)
    while end - offset >= _U32.size:
        (size,) = _U32.unpack_from(buffer, offset)
        start = offset + _U32.size
        if end - start < size:
            break
        records.append(bytes(buffer[start : start + size]))
        offset = start + size
    if offset:
        del buffer[:offset]
    return records
