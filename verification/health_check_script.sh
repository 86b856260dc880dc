#!/bin/sh
# AlokickFlow health check (the checklist's Stage 0 verification).
#
#   ./verification/health_check_script.sh [--verbose]
#
# Reads $APP_URL (default http://127.0.0.1:8700) and, for the admin endpoints, $APP_TOKEN.
# Prints one line per component and "OVERALL: HEALTHY" (exit 0) or "OVERALL: UNHEALTHY" (exit 1).
# The token is never printed.
set -u
VERBOSE=0
[ "${1:-}" = "--verbose" ] && VERBOSE=1
export VERBOSE
exec python3 - <<'PY'
import json, os, sys, urllib.error, urllib.request

base = os.environ.get("APP_URL", "http://127.0.0.1:8700").rstrip("/")
token = os.environ.get("APP_TOKEN", "")
verbose = os.environ.get("VERBOSE") == "1"
timeout = float(os.environ.get("HEALTH_TIMEOUT", "5"))


def get(path, auth=False):
    req = urllib.request.Request(base + path)
    if auth and token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read(1_000_000))


def check(name, path, judge, auth=False):
    try:
        body = get(path, auth)
        ok, detail = judge(body)
    except urllib.error.HTTPError as e:
        ok, detail = False, f"HTTP {e.code}"
    except Exception as e:  # connection refused, timeout, bad JSON
        ok, detail = False, (str(getattr(e, "reason", "")) or type(e).__name__).replace(token or "\0", "***")
    print(f"{name:<10} {'OK' if ok else 'FAIL':<5} {detail if verbose else ''}".rstrip())
    return ok


results = [
    check("health", "/health", lambda b: (b.get("status") == "healthy", f"status={b.get('status')}")),
    check("dlq", "/api/admin/dlq?stats=true", lambda b: ("total" in b, f"total={b.get('total')}"), auth=True),
    check("watchdog", "/api/qc/debug", lambda b: ("watchdogMetrics" in b, "watchdogMetrics present"), auth=True),
]
print("OVERALL: HEALTHY" if all(results) else "OVERALL: UNHEALTHY")
sys.exit(0 if all(results) else 1)
PY
