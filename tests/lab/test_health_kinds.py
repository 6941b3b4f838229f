"""Every kind of health check, passing and failing for its own reason, on a real deploy: the
lab target's systemd runs the unikernel (the tender double behind a tap), workbench probes it
through the SSH connection, and a failed check rolls back to the release that ran before."""

from __future__ import annotations

import re

import pytest

from tests.lab.deploykit import HEALTHY, Variant, artifact, deploy, on_target, remove, variant

pytestmark = pytest.mark.lab

# Short deadlines: a failing check waits them out, and the guest answers in well under one.
CHECKS = {
    "http500": "health:\n  kind: http\n  port: 8080\n  path: /health\n  timeout: 4\n",
    "tcp": "health:\n  kind: tcp\n  port: 8080\n  timeout: 4\n",
    "tcp_closed": "health:\n  kind: tcp\n  port: 8081\n  timeout: 4\n",
    "ping": "health:\n  kind: ping\n  timeout: 4\n",
    "ping_nobody": "health:\n  kind: ping\n  address: 10.0.{n}.77\n  timeout: 4\n",
    "log": "health:\n  kind: log\n  pattern: serving HTTP on port \\d+\n  timeout: 4\n",
}
HEALTH_BLOCK = re.compile(r"^health:\n(?:  .*\n)+", re.M)


def with_check(v: Variant, check: str) -> Variant:
    text, found = HEALTH_BLOCK.subn(lambda _: CHECKS[check].format(n=v.net), v.path.read_text())
    assert found == 1
    v.path.write_text(text)
    return v


@pytest.fixture
def v(lab, tmp_path):
    var = variant(tmp_path, 75)
    remove(var)
    yield var
    remove(var)


def health(events: list[dict]) -> dict:
    (result,) = [e for e in events if e["event"] == "health_result"]
    return result


def rolled_back(v: Variant, tmp_path, check: str, good: dict, bad: dict) -> tuple[dict, dict]:
    """Deploy `good`, then `bad` under the same check: the second fails its health check and
    is rolled back to the first, which runs again. The two health results."""
    with_check(v, check)
    code, events, err = deploy(v, artifact(tmp_path, "good", good))
    assert code == 0, err
    first = events[-1]["release"]
    passed = health(events)
    code, events, err = deploy(v, artifact(tmp_path, "bad", bad))
    assert code == 8, err
    (back,) = [e for e in events if e["event"] == "rolled_back"]
    assert back["to_release"] == first
    failed = next(e for e in events if e["event"] == "health_result")
    state = on_target(f"readlink {v.release_dir}/current; systemctl is-active {v.unit}")
    assert state.stdout.split() == [f"releases/{first}", "active"]
    return passed, failed


def test_http_500_fails_the_check_and_rolls_back(v, tmp_path):
    down = {**HEALTHY, "listen": [{"port": 8080, "http": {"/health": [500, "db down\n"]}}]}
    passed, failed = rolled_back(v, tmp_path, "http500", HEALTHY, down)
    assert (passed["ok"], passed["detail"]) == (True, "HTTP 200")
    assert passed["target"] == f"http://10.0.{v.net}.2:8080/health"
    assert not failed["ok"]
    assert failed["detail"] == (
        f"not healthy after 4 s (http://10.0.{v.net}.2:8080/health: HTTP 500, expected 200)"
    )


def test_tcp_passes_on_a_listening_port_and_fails_on_a_closed_one(v, tmp_path):
    passed, failed = rolled_back(v, tmp_path, "tcp", HEALTHY, {**HEALTHY, "listen": []})
    assert (passed["ok"], passed["detail"]) == (True, f"10.0.{v.net}.2:8080 accepts connections")
    assert failed["detail"] == (
        f"not healthy after 4 s (tcp 10.0.{v.net}.2:8080: "
        f"connect to 10.0.{v.net}.2:8080: Connection refused)"
    )


def test_ping_passes_on_the_unikernel_and_fails_on_an_address_nobody_has(v, tmp_path):
    with_check(v, "ping")
    code, events, err = deploy(v, artifact(tmp_path, "good", HEALTHY))
    assert code == 0, err
    assert (health(events)["ok"], health(events)["detail"]) == (True, "ping answered")
    assert health(events)["target"] == f"ping 10.0.{v.net}.2"
    remove(v)
    with_check(v, "ping_nobody")
    code, events, err = deploy(v, artifact(tmp_path, "good", HEALTHY))
    assert code == 8, err
    assert health(events)["detail"] == (
        f"not healthy after 4 s (ping 10.0.{v.net}.77: no ping reply)"
    )


def test_log_passes_on_its_line_and_fails_when_the_line_never_comes(v, tmp_path):
    quiet = {**HEALTHY, "logs": [{"msg": "starting"}]}
    passed, failed = rolled_back(v, tmp_path, "log", HEALTHY, quiet)
    # The matched line whole, as the journal holds it: the guest's time stamp, level and source.
    assert re.fullmatch(
        r"log line matched: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-00:00: "
        r"\[INFO\] \[application\] serving HTTP on port 8080",
        passed["detail"],
    ), passed["detail"]
    assert passed["target"] == "log /serving HTTP on port \\d+/"
    assert failed["detail"] == (
        "not healthy after 4 s (log /serving HTTP on port \\d+/: no log line matched)"
    )
