"""Helpers shared by engines' public entry points: build a request from keywords, run off-loop."""

from __future__ import annotations

from typing import TypeVar

from runbook.errors import BadInputData

R = TypeVar("R")


def coerce_request(request_type: type[R], request: object | None, fields: dict[str, object]) -> R:
    """``request`` if given (and of the right type), else ``request_type(**fields)``."""
    if request is None:
        try:
            return request_type(**fields)
        except TypeError as exc:
            raise BadInputData(f"bad {request_type.__name__} fields: {exc}") from None
    if fields:
        raise BadInputData(f"pass either a {request_type.__name__} or keyword fields, not both")
    if not isinstance(request, request_type):
        raise BadInputData(f"expected a {request_type.__name__}, got {type(request).__name__}")
    return request
