"""Schemathesis against a live server: every operation of /api/openapi.json, with generated (valid and
invalid) bodies, queries and ids, signed in as each role. No answer may be a 500, and every answer must be one
the document lists, with the content type and body schema it states."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "kefu-demo-2026"  # the demo users' password (accounts/demo.py)
ROLES = {"admin": "admin", "lead": "lead", "grader": "grader", "trainee": "trainee_en"}
EXAMPLES = int(os.environ.get("KEFU_SCHEMATHESIS_EXAMPLES", 15))  # per operation and role


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real server (SQLite + embedded Redis) with the demo content and users, in its own process."""
    inst = tmp_path_factory.mktemp("instance")
    port = _free_port()
    env = {**os.environ, "KEFU_INSTANCE": str(inst), "SECRET_KEY": "schemathesis", "PYTHONPATH": str(ROOT),
           "KEFU_SMTP_PORT": "0"}  # fmt: skip
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    log = open(inst / "server.log", "w")  # noqa: SIM115  (open while the server runs)
    proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.live_server", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + float(os.environ.get("KEFU_E2E_START_SECONDS", 180))
    while True:
        if proc.poll() is not None:
            raise RuntimeError((inst / "server.log").read_text()[-3000:])
        try:
            if requests.get(url + "/login", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.time() > deadline:
            proc.kill()
            raise RuntimeError("the live server did not start")
        time.sleep(0.3)
    yield {"url": url, "log": inst / "server.log"}
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def signed_in(url: str, username: str) -> requests.Session:
    """A session signed in through the login form, sending the CSRF token as the pages do."""
    s = requests.Session()
    page = s.get(url + "/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = s.post(url + "/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.ok and "/login" not in r.url, f"{username} could not sign in"
    home = s.get(url + "/").text
    s.headers["X-CSRFToken"] = re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)
    return s


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
def test_api_answers_as_documented(server, role):
    """No 500s, and no answer that contradicts the document, for every operation as each role."""
    import schemathesis

    url = server["url"]
    session = signed_in(url, ROLES[role]) if role in ROLES else requests.Session()
    schema = schemathesis.openapi.from_dict(small_ids(requests.get(url + "/api/openapi.json").json()))
    calls, failures = fuzz(schema, url, session)
    print(f"{role}: {calls} calls, operations failing: {sorted(failures) or 'none'}")
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


def small_ids(doc: dict) -> dict:
    """The live server's objects have small ids: ids up to 12 reach real contacts, rooms and exercises often
    (the document itself allows 0 to 2^63 - 1; larger ids are covered by the matrix and tests/security)."""
    for path in doc["paths"].values():
        for op in path.values():
            for p in op.get("parameters", []):
                if p["in"] == "path" and p["schema"].get("type") == "integer":
                    p["schema"]["maximum"] = 12
    return doc


def fuzz(schema, url: str, session: requests.Session) -> tuple[int, dict[str, str]]:
    """Run every operation EXAMPLES times; the failures by operation."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: dict[str, str] = {}
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def run(case):
            nonlocal calls
            calls += 1
            case.call_and_validate(base_url=url, session=session, checks=checks, timeout=60)

        try:
            run()
        except (Exception, BaseExceptionGroup) as e:  # one operation's failures are reported with the others
            failures[operation.label] = str(e)[:1500]
    return calls, failures


def test_an_answer_that_contradicts_the_document_fails(server):
    """The checks bite: a document that says /api/floor answers a key it never sends is caught."""
    import schemathesis

    url = server["url"]
    doc = requests.get(url + "/api/openapi.json").json()
    doc["paths"] = {"/api/floor": doc["paths"]["/api/floor"]}
    doc["paths"]["/api/floor"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "required": ["no_such_key"],
    }
    calls, failures = fuzz(schemathesis.openapi.from_dict(doc), url, signed_in(url, "lead"))
    assert calls and "GET /api/floor" in failures and "no_such_key" in failures["GET /api/floor"]
