"""Stable hashes: the sticky canary point of a routing key, and a short digest of a result.

Python's built-in ``hash`` is salted per process, so two router processes would route the same
portfolio differently; everything here uses blake2b, identical in every process and release.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from hashlib import blake2b

__all__ = ["digest_or_none", "result_digest", "routing_point"]

_SCALE = float(2**64)
_MAX_DEPTH = 32


@functools.lru_cache(maxsize=65_536)
def routing_point(component: str, routing_key: str) -> float:
    """The point in [0, 1) of ``routing_key`` for ``component``; below the canary fraction -> candidate.

    Uniform over keys, the same in every process, and independent between components (a portfolio
    on the candidate for one component is not more likely to be on it for another).
    """
    material = f"{component}\x1f{routing_key}".encode()
    return int.from_bytes(blake2b(material, digest_size=8).digest(), "big") / _SCALE


def result_digest(value: object) -> str:
    """A 16-hex-character digest of a result, equal for equal results in any process.

    Floats hash by their exact repr (so 0.1 + 0.2 and 0.3 differ, as they should); numpy arrays
    by dtype, shape and bytes; mappings independently of insertion order; dataclasses by class
    name and fields. An exception digests as ``!TypeName``.
    """
    if isinstance(value, BaseException):
        return f"!{type(value).__name__}"[:64]
    hasher = blake2b(digest_size=8)
    _feed(hasher, value, 0)
    return hasher.hexdigest()


def digest_or_none(value: object) -> str | None:
    """``result_digest``, or None for a result it cannot hash (still recorded, without a digest)."""
    try:
        return result_digest(value)
    except Exception:  # noqa: BLE001 - an unhashable result is still recorded, without its digest
        return None


def _feed(hasher: blake2b, value: object, depth: int) -> None:
    if depth > _MAX_DEPTH:
        hasher.update(b"<deep>")
        return
    if value is None or isinstance(value, bool | int | str | bytes):
        hasher.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, float):
        hasher.update(f"f:{value!r};".encode() if not math.isnan(value) else b"f:nan;")
    elif hasattr(value, "__array__") and hasattr(value, "dtype"):
        _feed_array(hasher, value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        hasher.update(f"dc:{type(value).__qualname__}(".encode())
        for field in dataclasses.fields(value):
            hasher.update(field.name.encode() + b"=")
            _feed(hasher, getattr(value, field.name), depth + 1)
        hasher.update(b")")
    elif isinstance(value, Mapping):
        hasher.update(b"map{")
        for key in sorted(value, key=repr):
            _feed(hasher, key, depth + 1)
            _feed(hasher, value[key], depth + 1)
        hasher.update(b"}")
    elif isinstance(value, list | tuple):
        hasher.update(f"seq{len(value)}[".encode())
        for item in value:
            _feed(hasher, item, depth + 1)
        hasher.update(b"]")
    else:
        _feed_other(hasher, value, depth)


def _feed_array(hasher: blake2b, value: object) -> None:
    import numpy as np  # only reached when the value already is a numpy-like array

    array = np.ascontiguousarray(value)
    hasher.update(f"nd:{array.dtype.str}:{array.shape}:".encode())
    hasher.update(array.tobytes())


def _feed_other(hasher: blake2b, value: object, depth: int) -> None:
    # Numpy scalars and other number types behave as floats; plain objects by their attributes
    # (their default repr carries a memory address, which is not stable).
    if hasattr(value, "__float__") and not hasattr(value, "__dict__"):
        _feed(hasher, float(value), depth)
    elif hasattr(value, "__dict__"):
        hasher.update(f"obj:{type(value).__qualname__}".encode())
        _feed(hasher, dict(vars(value)), depth + 1)
    else:
        hasher.update(f"{type(value).__qualname__}:{value!r};".encode())
