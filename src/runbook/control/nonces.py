"""Replay protection shared by every process through the store: a nonce or signature counts once."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, delete, insert
from sqlalchemy.exc import IntegrityError

from runbook.control._time import utc_now
from runbook.control.models import SeenNonceRow

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["SeenNonces"]

_NONCES = cast(Table, SeenNonceRow.__table__)
MAX_NONCE_CHARS = 200


class SeenNonces:
    """Nonces and request signatures already used, kept for ``keep_s`` seconds (twice any window)."""

    def __init__(self, store: Store, *, keep_s: float = 600.0) -> None:
        self._store = store
        self._keep = timedelta(seconds=keep_s)

    def first_use(self, nonce: str, *, channel: str) -> bool:
        """True the first time ``nonce`` is offered (from any process), False for a replay."""
        now = utc_now()
        try:
            with self._store.write(exclusive=False) as conn:
                conn.execute(delete(_NONCES).where(_NONCES.c.seen_at < now - self._keep))
                conn.execute(insert(_NONCES).values(nonce=nonce[:MAX_NONCE_CHARS], channel=channel,
                                                    seen_at=now))
        except IntegrityError:
            return False
        return True
