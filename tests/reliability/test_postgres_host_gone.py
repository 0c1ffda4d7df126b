"""A PostgreSQL host that dies without a word, its address taken over by a standby.

Power loss, a kernel panic or a killed VM send nothing: idle pooled connections have nothing to
read, so a look at their sockets finds them fine. When a standby takes over the address (a floating
IP), the first packet such a connection sends is answered by a reset. A TCP proxy in front of the
test database plays that host: it cuts every connection it carries without telling the client, and
answers the client's next packet with a reset, while new connections go through. The ping that
finds such connections is for connections idle a while only: steady traffic must not pay it.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, make_url, text

from crm_core import store
from crm_core.store import POOL_SIZE, make_engine, transaction
from tests.conftest import POSTGRES_ENV

pytestmark = pytest.mark.skipif(
    not os.environ.get(POSTGRES_ENV, "").startswith("postgresql"),
    reason=f"needs a postgres server ({POSTGRES_ENV} set to PostgreSQL): SQLite has no server host to lose",
)


class _FailingOverHost:
    """A proxy to the database server whose carried connections can all die silently at once."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._carried: list[tuple[socket.socket, dict[str, bool]]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def die_silently(self) -> None:
        """Every carried connection's server side is gone; its client is told nothing until it sends."""
        with self._lock:
            for upstream, dead in self._carried:
                dead["dead"] = True
                upstream.shutdown(socket.SHUT_RDWR)
            self._carried.clear()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self._upstream)
            dead = {"dead": False}
            with self._lock:
                self._carried.append((upstream, dead))
            threading.Thread(target=self._pump, args=(client, upstream, dead), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, {"dead": False}), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, dead: dict[str, bool]) -> None:
        try:
            while data := source.recv(65536):
                if dead["dead"]:  # the standby knows no such connection: it answers with a reset
                    source.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    source.close()
                    return
                target.sendall(data)
        except OSError:
            pass


@pytest.fixture
def host(database_url: str) -> Iterator[_FailingOverHost]:
    url = make_url(database_url)
    proxy = _FailingOverHost(url.host or "127.0.0.1", url.port or 5432)
    yield proxy
    proxy.close()


@pytest.fixture
def through_host(engine: Engine, database_url: str, host: _FailingOverHost) -> Iterator[Engine]:
    """An engine whose connections go through ``host`` (the test database, emptied by ``engine``)."""
    proxied = make_engine(make_url(database_url).set(port=host.port).render_as_string(hide_password=False))
    yield proxied
    proxied.dispose()


def _one_unit(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.execute(text("SELECT 1")).scalar_one())


def test_after_a_silent_failover_the_first_unit_on_an_idle_pooled_connection_succeeds(
    through_host: Engine, host: _FailingOverHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "IDLE_PING_SECONDS", 0.05)
    assert _one_unit(through_host) == 1  # a pooled connection, now idle
    time.sleep(0.1)
    host.die_silently()

    assert _one_unit(through_host) == 1  # pinged, found dead, replaced: the unit never saw it
    assert _one_unit(through_host) == 1


def test_steady_traffic_after_a_burst_reuses_fresh_connections_instead_of_pinging_idle_ones(
    through_host: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "IDLE_PING_SECONDS", 0.5)
    pings: list[object] = []
    ping = through_host.dialect.do_ping
    monkeypatch.setattr(
        through_host.dialect, "do_ping", lambda connection: pings.append(connection) or ping(connection)
    )
    # The pool's ten connections opened at once, then idle; then one request every 0.1 s: in the
    # pool's default order each would wait ten turns (past the ping's age), here each is reused
    # after 0.1 s, which leaves 0.4 s for a busy machine to oversleep.
    burst = [through_host.connect() for _ in range(POOL_SIZE)]
    for connection in burst:
        connection.close()
    for _ in range(15):
        assert _one_unit(through_host) == 1
        time.sleep(0.1)

    assert pings == []
