"""`python -m emulator serve`: ready line, env file, start-up time, webhook delivery like an event subscription."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from azure.identity import ManagedIdentityCredential
from azure.mgmt.containerservice import ContainerServiceClient

from tests.conftest import DEMO_SCENARIO, Admin
from tests.fidelity.webhook_receiver import webhook_receiver


def test_serve_prints_one_ready_line_and_writes_the_env_file(tmp_path, monkeypatch):
    env_file = tmp_path / "cloud.env"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--scenario", str(DEMO_SCENARIO), "--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(process.stdout.readline())
        elapsed = time.monotonic() - started
        assert elapsed < 5, f"the local cloud took {elapsed:.1f}s to start"
        assert info["arm_endpoint"].startswith("https://127.0.0.1:")
        assert {"ca_bundle", "identity_endpoint", "identity_header", "tenant_id", "subscriptions"} <= set(info)
        settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        assert settings["SC_ARM_ENDPOINT"] == info["arm_endpoint"]
        assert settings["IDENTITY_HEADER"] == info["identity_header"]
        # the Azure CLI gets a profile of its own, and the principals' client ids for `az login --identity`
        assert settings["AZURE_CONFIG_DIR"].endswith("/azure")
        assert settings["LOCAL_CLOUD_CLIENT_ID_PLATFORM_ADMIN"] == info["principals"]["platform-admin"]
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        # Production code, unchanged, reaches the emulator through those settings alone.
        client = ContainerServiceClient(
            ManagedIdentityCredential(client_id=settings["AZURE_CLIENT_ID"]),
            info["subscriptions"][0],
            base_url=settings["SC_ARM_ENDPOINT"],
            credential_scopes=["https://management.azure.com/.default"],
        )
        assert [c.name for c in client.managed_clusters.list()] == ["aks-shop"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_events_are_delivered_to_webhooks_in_both_schemas(cloud, admin: Admin):
    with webhook_receiver() as hook:
        admin.post("webhooks", {"url": hook.url, "schema": "eventgrid"})
        admin.post("webhooks", {"url": hook.url, "schema": "cloudevents"})
        database = (
            f"/subscriptions/{cloud.subscriptions[0]}/resourceGroups/rg-shop/providers/Microsoft.Sql/servers/sql-shop"
            "/databases/orders/providers/Microsoft.Resources/tags/default"
        )
        token = admin.token("platform-admin")
        admin.session.put(
            f"{cloud.arm_endpoint}{database}?api-version=2024-11-01",
            json={"properties": {"tags": {"sc-group": "shop"}}},
            headers={"Authorization": f"Bearer {token}"},
        ).raise_for_status()
        by_type = dict(hook.wait_for(2))
        assert by_type["application/json"][0]["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
        assert by_type["application/cloudevents+json"]["specversion"] == "1.0"


def test_exec_runs_one_command_with_the_settings_and_leaves_the_shell_alone(tmp_path):
    """`python -m emulator exec -- COMMAND` gives one command the local cloud's settings (the env file sets
    HTTPS_PROXY, which refuses every host but the vaults: sourcing it would break the user's shell)."""
    env_file = tmp_path / "cloud.env"
    env_file.write_text("SC_ARM_ENDPOINT=https://127.0.0.1:1\nHTTPS_PROXY=http://127.0.0.1:2\n")
    shown = subprocess.run(
        [sys.executable, "-m", "emulator", "exec", "--env-file", str(env_file), "--", "sh", "-c",
         'echo "$SC_ARM_ENDPOINT $HTTPS_PROXY $KEPT"'],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "KEPT": "mine"},
    )  # fmt: skip
    assert shown.stdout.split() == ["https://127.0.0.1:1", "http://127.0.0.1:2", "mine"]
    missing = subprocess.run(
        [sys.executable, "-m", "emulator", "exec", "--env-file", str(tmp_path / "none"), "--", "true"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2 and "start the local cloud first" in missing.stderr
