"""A platform engineer's first hour, as real processes: the CLI fails fast naming the cause (no credential, an
endpoint that refuses), a filter or an input that matches nothing is an error, and an error-severity finding fails
plan, apply and handle-event for CI. Before issue 24 the first two took 31 s and 79 s of retries and warnings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from shared.adapters.azure.preflight import NO_CREDENTIAL
from shared.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tests.conftest import CLUSTER, DATABASE, SUB, demo_spec
from tests.e2e.conftest import SQL_TAGS

# Measured alone (load ~25 on 2 cores): no credential 3.0 s, ARM refused 2.8 s, a Kubernetes API refused 6.1 s;
# beside the rest of the suite they take up to ~2.5x that. What must never come back is the 31 s / 79 s of retries
# before issue 24, so the deadline is generous for load and still far below those.
DEADLINE_SECONDS = 20.0


def cli(*argv: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """The entry point in a process of its own, timed."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", *argv], capture_output=True, text=True, timeout=120,
        env=env if env is not None else dict(os.environ),
    )  # fmt: skip
    return done, time.monotonic() - started


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the socket is closed


def without_credential(tmp_path) -> dict[str, str]:
    """The local cloud's settings with no credential at all: no managed-identity endpoint, no `az login`."""
    env = {k: v for k, v in os.environ.items() if k not in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_CLIENT_ID",
                                                             "MSI_ENDPOINT", "MSI_SECRET")}  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    return env | {"HOME": str(home), "AZURE_CONFIG_DIR": str(home / "azure"), "PATH": "/usr/bin:/bin"}


def test_no_credential_is_one_line_and_exit_2_in_seconds(cloud, admin, tmp_path):
    mark = admin.mark()
    done, elapsed = cli("plan", env=without_credential(tmp_path))
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr == f"sc-autopilot: {NO_CREDENTIAL}\n" and done.stdout == ""  # no SDK warnings
    print(f"\n{elapsed:.1f}s")  # the figure the README and the issue note quote
    assert elapsed < DEADLINE_SECONDS, elapsed
    assert [r["path"] for r in admin.requests_since(mark) if "/subscriptions" in r["path"]] == []  # no read tried


def test_the_sdk_warnings_stay_under_debug(cloud, tmp_path):
    done, _ = cli("--debug", "plan", env=without_credential(tmp_path))
    assert done.returncode == EXIT_USAGE and "DefaultAzureCredential failed to retrieve a token" in done.stderr


def test_an_arm_endpoint_that_refuses_is_one_line_naming_it_and_exit_1():
    endpoint = f"https://127.0.0.1:{closed_port()}"
    done, elapsed = cli("plan", env=dict(os.environ) | {"SC_ARM_ENDPOINT": endpoint, "SC_SUBSCRIPTIONS": SUB})
    assert done.returncode == EXIT_FAILED and done.stdout == ""
    assert done.stderr.startswith(f"sc-autopilot: cannot reach Azure Resource Manager at {endpoint} (connection "
                                  "refused)") and done.stderr.count("\n") == 1, done.stderr  # fmt: skip
    print(f"\n{elapsed:.1f}s")  # the figure the README and the issue note quote
    assert elapsed < DEADLINE_SECONDS, elapsed


def test_a_managed_identity_endpoint_that_refuses_is_named_not_called_a_missing_login(cloud):
    port = closed_port()
    done, elapsed = cli("apply", env=dict(os.environ) | {"IDENTITY_ENDPOINT": f"http://127.0.0.1:{port}/msi/token"})
    assert done.returncode == EXIT_FAILED and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"sc-autopilot: cannot reach the managed identity endpoint 127.0.0.1:{port}")
    print(f"\n{elapsed:.1f}s")  # azure-identity retries its endpoint itself (3 tries, by design): ~5-9 s under load
    assert elapsed < DEADLINE_SECONDS, elapsed


def test_filters_and_inputs_that_match_nothing_exit_2(estate, admin, tmp_path):
    estate.tag(CLUSTER, {"sc-group": "shop"})
    mark = admin.mark()
    for argv, said in [
        (["plan", "--cluster", "aks-nope"], "--cluster aks-nope matches no cluster tagged sc-group; tagged: aks-shop"),
        (["apply", "-g", "rg-nope"], "-g rg-nope matches no cluster tagged sc-group; tagged: aks-shop"),
        (["sweep", "--subscription", "nope"], "--subscription nope is not one of SC_SUBSCRIPTIONS (by id or name)"),
        (["sweep", "--report", str(tmp_path / "x.txt")], f"--report {tmp_path / 'x.txt'}: give a .json or .html"),
    ]:
        done, _ = cli(*argv)
        assert done.returncode == EXIT_USAGE and done.stderr.startswith(f"sc-autopilot: {said}"), (argv, done.stderr)
        assert done.stderr.count("\n") == 1 and done.stdout == "", argv
    assert not (tmp_path / "x.txt").exists()
    assert estate.writes_since(mark) == []
    not_json = tmp_path / "events.json"
    not_json.write_text("this is not JSON")
    done, _ = cli("handle-event", str(not_json))
    assert done.returncode == EXIT_USAGE and "is not readable JSON" in done.stderr


def test_an_error_finding_fails_plan_apply_and_handle_event(estate, tmp_path):
    """A broken tag (TAG_INVALID: a password where a Key Vault URL belongs) is an error a CI job must notice."""
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS | {"sc-sql-password": "hunter2"})
    events = tmp_path / "events.json"
    events.write_text(json.dumps(estate.new_events()))
    for argv in (["plan"], ["apply"], ["handle-event", str(events)], ["plan", "--detailed-exitcode"]):
        done, _ = cli("-o", "json", *argv)
        codes = {f["code"] for f in json.loads(done.stdout)["findings"]}
        assert "TAG_INVALID" in codes and done.returncode == EXIT_FAILED, (argv, done.returncode, done.stderr)
    estate.tag(DATABASE, SQL_TAGS)  # fixed: the same commands succeed
    done, _ = cli("apply")
    assert done.returncode == EXIT_OK, done.stdout


def test_a_consent_fix_is_printed_whole_at_80_columns(estate):
    """CONSENT_MISSING (namespace payments lets no target in): its fix command, whole on one line, under the table."""
    estate.tag(CLUSTER, {"sc-group": "shop"})
    estate.tag(DATABASE, SQL_TAGS | {"sc-namespace": "payments"})
    table, _ = cli("plan", env=dict(os.environ) | {"COLUMNS": "80", "NO_COLOR": "1"})
    document, _ = cli("plan", "-o", "json")
    (fix,) = {f["fix"] for f in json.loads(document.stdout)["findings"] if f["code"] == "CONSENT_MISSING"}
    assert len(fix) > 80 and table.returncode == EXIT_FAILED
    assert f"[1] {fix}" in table.stdout.splitlines(), table.stdout


def test_a_kubernetes_api_that_refuses_is_one_line_naming_it_and_exit_1(make_cloud):
    """The cluster's kubeconfig names an API server nothing listens at (the scenario's `api_server`)."""
    spec = demo_spec()
    cluster = spec["subscriptions"][0]["resource_groups"][0]["clusters"][0]
    server = f"https://127.0.0.1:{closed_port()}"
    cluster |= {"tags": {"sc-group": "shop"}, "api_server": server}
    make_cloud(spec)
    done, elapsed = cli("plan")
    assert done.returncode == EXIT_FAILED and done.stdout == "", done.stdout
    said = f"cannot reach the Kubernetes API of aks-shop at {server} (connection refused)"
    assert done.stderr == f"sc-autopilot: {said}\n"
    print(f"\n{elapsed:.1f}s")  # the figure the README and the issue note quote
    assert elapsed < DEADLINE_SECONDS, elapsed
