"""Smoke tests: each real-server fixture really works."""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest

from tests.servers import Postgres, Prometheus
from tests.servers_unleash import Unleash


def test_sim_server_fixture(sim_url, sim_token):
    assert sim_url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{sim_url}/health").json()["status"] == "healthy"
    r = httpx.get(f"{sim_url}/api/flags", headers={"Authorization": f"Bearer {sim_token}"})
    assert r.status_code == 200 and len(r.json()["flags"]) == 2


@pytest.mark.postgres
def test_postgres_select_1_and_password_auth(postgres: Postgres):
    with psycopg.connect(postgres.dsn(), connect_timeout=5) as conn:
        assert conn.execute("select 1, current_user").fetchone() == (1, "cockpit")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.dsn(password="wrong-pw"), connect_timeout=5)
    with psycopg.connect(postgres.dsn(user="postgres"), connect_timeout=5) as conn:
        assert conn.execute("select current_setting('listen_addresses')").fetchone() == ("127.0.0.1",)


@pytest.mark.postgres
def test_postgres_fresh_database_and_restart(postgres: Postgres, postgres_db: str):
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("create table job_dlq (id int)")
        assert conn.execute("select count(*) from job_dlq").fetchone() == (0,)
    postgres.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_db, connect_timeout=2)
    postgres.start()
    with psycopg.connect(postgres_db) as conn:
        assert conn.execute("select count(*) from job_dlq").fetchone() == (0,)


@pytest.mark.prometheus
def test_prometheus_scrapes_the_sim(prometheus: Prometheus):
    assert httpx.get(f"{prometheus.url}/-/ready").is_success
    deadline = time.monotonic() + 15
    result: list = []
    while time.monotonic() < deadline and not result:
        result = prometheus.query("alokickflow_http_requests_total")
        time.sleep(0.5)
    assert {s["metric"]["code"] for s in result} == {"200", "500"}
    assert float(next(s for s in result if s["metric"]["code"] == "200")["value"][1]) > 0


@pytest.mark.unleash
def test_unleash_health_projects_and_flag_api(unleash: Unleash):
    assert httpx.get(f"{unleash.url}/health").json()["health"] == "GOOD"
    assert httpx.get(f"{unleash.url}/api/admin/projects", headers={"Authorization": "wrong"}).status_code == 401
    projects = httpx.get(f"{unleash.url}/api/admin/projects", headers=unleash.headers).json()["projects"]
    assert "default" in [p["id"] for p in projects]
    envs = httpx.get(f"{unleash.url}/api/admin/environments", headers=unleash.headers).json()["environments"]
    assert {"development", "production"} <= {e["name"] for e in envs}

    # a flag of its own: the session's Unleash is shared with the kill-switch tests
    flag, env = "SMOKE_TEST_FLAG", "production"
    unleash.create_flag(flag)
    base = unleash.feature_path(flag)
    assert unleash.flag_state(flag, env) == (False, [])
    # on: adds a default flexibleRollout strategy at 100 %
    r = httpx.post(f"{base}/environments/{env}/on", headers=unleash.headers)
    assert r.status_code == 200
    assert unleash.flag_state(flag, env) == (True, [100])
    # percent: update that strategy
    strategies = httpx.get(f"{base}/environments/{env}/strategies", headers=unleash.headers).json()
    sid = strategies[0]["id"]
    body = {"name": "flexibleRollout", "parameters": {"rollout": "5", "stickiness": "default", "groupId": flag}}
    r = httpx.put(f"{base}/environments/{env}/strategies/{sid}", headers=unleash.headers, json=body)
    assert r.status_code == 200
    assert unleash.flag_state(flag, env) == (True, [5])
    # bulk off (the kill switch)
    r = httpx.post(
        f"{unleash.url}/api/admin/projects/{unleash.project}/bulk_features/environments/{env}/off",
        headers=unleash.headers,
        json={"features": [flag]},
    )
    assert r.status_code == 200
    assert unleash.flag_state(flag, env)[0] is False
    r = httpx.post(f"{base}/environments/{env}/off", headers=unleash.headers)
    assert r.status_code == 200
