"""How requests and results cross the pipe to a candidate's worker process: a serializer and frames.

A serializer turns one object into frames (bytes-like objects) and back. The default pickles
with protocol 5 and sends every buffer that supports it (numpy arrays, ``bytearray``) as its own
frame, out of band: the array's memory is written to the pipe straight from the array, never
copied into the pickle first, and read back into a fresh writable buffer the new array uses as is.

A component may supply its own serializer (``Router(serializer=...)``): any picklable object with
``dumps(obj) -> list of bytes-like`` and ``loads(list of bytes-like) -> obj``. The worker receives
it when it starts, so it must be importable there (a module-level class, not a lambda).

A message is a header (the frame count, whether the frames follow inline, and each frame's
size, little-endian unsigned 64-bit) and the frames. Up to 256 KiB in all, header and frames
cross as one ``send_bytes`` (one system call each way; the small copy costs less than the calls
it saves); larger messages send each frame as its own ``send_bytes`` and the receiver reads it
into a buffer of the announced size (``recv_bytes_into``), so a large array is never copied twice.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any, Protocol

__all__ = ["PickleSerializer", "Serializer", "receive", "send"]

_COUNT = struct.Struct("<QQ")  # frames, inline (1) or one message per frame (0)
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


def send(conn: Connection, frames: Sequence[Any]) -> None:
    """Write ``frames`` to ``conn`` as one message (raises OSError if the peer is gone)."""
    sizes = [memoryview(frame).nbytes for frame in frames]
    inline = sum(sizes) <= _INLINE_MAX
    header = _COUNT.pack(len(sizes), inline) + struct.pack(f"<{len(sizes)}Q", *sizes)
    if inline:
        conn.send_bytes(b"".join((header, *frames)))
        return
    conn.send_bytes(header)
    for frame in frames:
        conn.send_bytes(frame)


def receive(conn: Connection) -> list[Any]:
    """Read one message written by ``send`` (raises EOFError or OSError if the peer is gone)."""
    header = conn.recv_bytes()
    count, inline = _COUNT.unpack_from(header)
    sizes = struct.unpack_from(f"<{count}Q", header, _COUNT.size)
    if inline:
        data = memoryview(bytearray(header))  # writable: arrays built on it may be used as scratch
        offset = _COUNT.size + 8 * count
        frames: list[Any] = []
        for size in sizes:
            frames.append(data[offset : offset + size])
            offset += size
        return frames
    frames = []
    for size in sizes:
        frame = bytearray(size)
        if size:
            conn.recv_bytes_into(frame)
        else:
            conn.recv_bytes()
        frames.append(frame)
    return frames
