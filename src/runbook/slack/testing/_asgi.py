"""A synchronous in-process client for the ASGI endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

from runbook.slack.testing._signing import SignedRequest

__all__ = ["AsgiClient"]


class AsgiClient:
    """A synchronous HTTP client for an ASGI app, in process (``httpx.ASGITransport``).

    Each request runs the app to completion, background tasks included, before returning, so a
    test sees every effect of a click as soon as ``post`` returns.
    """

    def __init__(self, app: Any, *, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self._client = client

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return asyncio.run(self._request(method, path, **kwargs))

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def post_signed(self, signed: SignedRequest, path: str = "/slack/interactions") -> Any:
        """POST a signed interaction request as Slack would."""
        return self.post(path, content=signed.body, headers=signed.headers)

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False, client=self._client)
        async with httpx.AsyncClient(transport=transport, base_url="http://runbook.test") as client:
            return await client.request(method, path, **kwargs)
