"""A LISTEN connection that dies silently is noticed by its ping, dropped, and replaced once the
network answers again, so pushed changes resume (PostgreSQL behind a proxy the test black-holes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from runbook.control import ProductionSafetyManager, Store
from runbook.control._changes import ChangeSignal
from runbook.control.store import STATE_CHANNEL

pytestmark = pytest.mark.postgres


def wait_until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def proxied(postgres_url: str) -> Iterator[tuple[str, str, TcpProxy]]:
    """(direct URL, URL through a proxy the test controls, proxy) on the test's database."""
    real = make_url(postgres_url)
    Store.from_url(postgres_url).dispose()
    with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        yield postgres_url, url, proxy


def test_a_black_holed_listen_connection_is_noticed_and_replaced(proxied: tuple[str, str, TcpProxy]) -> None:
    """Black-holed: the listener stops claiming to listen (its ping got no answer); restored: it
    listens again on a new connection and the next committed change reaches the subscriber."""
    direct, through_proxy, proxy = proxied
    signal = ChangeSignal(through_proxy, channel=STATE_CHANNEL, sqlite_file=None, timeout_s=0.5,
                          ping_interval_s=0.5)  # fmt: skip
    fired = threading.Event()
    signal.subscribe(fired.set)
    try:
        assert wait_until(lambda: signal.listening, 30)
        proxy.blackhole()  # the connection stays up; nothing is answered any more
        assert wait_until(lambda: not signal.listening, 30)
        proxy.restore()
        assert wait_until(lambda: signal.listening, 30)
        fired.clear()
        with Store.from_url(direct) as store:
            ProductionSafetyManager(store, actor="alice").enable_shadow_mode("var_engine")
        assert fired.wait(30)
    finally:
        signal.close()


def test_a_quiet_healthy_connection_keeps_listening(proxied: tuple[str, str, TcpProxy]) -> None:
    """Pings answered: the same connection keeps listening through silence and delivers a change."""
    direct, through_proxy, _proxy = proxied
    signal = ChangeSignal(through_proxy, channel=STATE_CHANNEL, sqlite_file=None, timeout_s=5.0,
                          ping_interval_s=0.2)  # fmt: skip
    fired = threading.Event()
    signal.subscribe(fired.set)
    try:
        assert wait_until(lambda: signal.listening, 30)
        fired.clear()
        time.sleep(1.5)  # several pings
        assert signal.listening
        assert not fired.is_set()  # no reconnect happened (each reconnect fires once)
        with Store.from_url(direct) as store:
            ProductionSafetyManager(store, actor="alice").enable_shadow_mode("var_engine")
        assert fired.wait(30)
    finally:
        signal.close()
