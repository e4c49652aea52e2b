"""The real Azure CLI (azure-cli from PyPI, in .venv-az) against the local cloud, as a platform engineer following
the seed tutorials would use it: a custom cloud registered from the local ARM, `az login --identity`, then the
provider, AKS, identity, tag, resource and Service Connector commands, and kubectl through the kubeconfig that
`az aks get-credentials` writes. Each command checks what Azure prints (FACTS.md sections 1, 5, 10).

`make test` installs the CLI (`.venv-az/.installed`); run alone, the test is skipped until it is installed.
Independent commands run concurrently: each `az` costs ~2 s of start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import CLUSTER, DATABASE, IDENTITY, OPENAI, ROOT, SUB, demo_spec

AZ_VENV = ROOT / ".venv-az"
AZ = AZ_VENV / "bin" / "az"
KUBECTL = Path(sys.executable).parent / "kubectl"
KUBELOGIN = Path(__file__).parent / "azcli" / "kubelogin.py"
LINKERS = f"{CLUSTER}/providers/Microsoft.ServiceLinker/linkers"

pytestmark = [
    pytest.mark.skipif(not AZ.exists(), reason="the Azure CLI is not installed: run `make test`"),
    pytest.mark.timeout(300),  # ~25 CLI start-ups: under a shared machine's load, more than the default 120 s
]


class Shell:
    """Runs az / kubectl with the local cloud's settings, the ones `python -m emulator exec` gives a command (an
    AZURE_CONFIG_DIR of its own; the emulator's CA trusted through REQUESTS_CA_BUNDLE, the CLI's supported
    mechanism, never by turning TLS verification off)."""

    def __init__(self, cloud, home: Path):
        self.cloud = cloud
        bin_dir = home / "bin"
        bin_dir.mkdir()
        stand_in = bin_dir / "kubelogin"
        stand_in.write_text(f'#!/bin/sh\nexec "{AZ_VENV / "bin" / "python"}" "{KUBELOGIN}" "$@"\n')
        stand_in.chmod(0o755)
        self.kubeconfig = home / "kubeconfig"
        self.env = cloud.environment() | {
            "PATH": os.pathsep.join([str(bin_dir), str(AZ.parent), str(KUBECTL.parent), "/usr/bin", "/bin"]),
            "HOME": str(home),
            "KUBECONFIG": str(self.kubeconfig),  # where kubelogin convert-kubeconfig finds the file
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
            "AZURE_CORE_NO_COLOR": "true",
            "AZURE_LOGGING_ENABLE_LOG_FILE": "false",
        }
        self.timings: dict[str, float] = {}

    def run(self, *args: str, program: Path = AZ) -> str:
        started = time.monotonic()
        result = subprocess.run(
            [str(program), *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        self.timings[" ".join(args[:3])] = time.monotonic() - started
        assert result.returncode == 0, f"{program.name} {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def az(self, *args: str) -> object:
        return json.loads(self.run(*args, "-o", "json") or "null")

    def kubectl(self, *args: str) -> list[list[str]]:
        return [line.split() for line in self.run(*args, program=KUBECTL).splitlines()]


def together(*calls: Callable[[], object]) -> list[object]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


@pytest.fixture
def shell(make_cloud, tmp_path):
    spec = demo_spec() | {"lro_retry_after": 1, "throttling": {"enabled": False}}
    cloud = make_cloud(spec)
    return Shell(cloud, tmp_path)


def test_a_platform_engineer_follows_the_tutorials_with_the_real_azure_cli(shell, request):
    started, cloud = time.monotonic(), shell.cloud
    # FACTS.md section 10: `az cloud register` reads <arm>/metadata/endpoints without a token
    shell.run("cloud", "register", "-n", "LocalCloud", "--endpoint-resource-manager", cloud.arm_endpoint)
    shell.run("cloud", "set", "-n", "LocalCloud")
    admin_client_id = shell.env["LOCAL_CLOUD_CLIENT_ID_PLATFORM_ADMIN"]  # the platform engineer
    accounts = shell.az("login", "--identity", "--client-id", admin_client_id)  # GET /subscriptions
    assert [(a["id"], a["name"], a["tenantId"], a["user"]["type"]) for a in accounts] == [
        (SUB, "contoso-platform", cloud.tenant_id, "servicePrincipal")
    ]

    provider, cluster, identity, _, tagged, support = together(
        lambda: shell.az("provider", "show", "-n", "Microsoft.KubernetesConfiguration"),
        lambda: shell.az("aks", "show", "-g", "rg-shop", "-n", "aks-shop"),
        lambda: shell.az("identity", "show", "--ids", IDENTITY),
        lambda: shell.run("aks", "get-credentials", "-g", "rg-shop", "-n", "aks-shop", "--file", str(shell.kubeconfig)),
        lambda: shell.az("tag", "update", "--resource-id", DATABASE, "--operation", "Merge", "--tags", "sc-group=shop"),
        lambda: shell.az("aks", "connection", "list-support-types"),
    )
    assert provider["registrationState"] == "NotRegistered"  # the demo subscription, before registration
    # FACTS.md section 10: `az aks show` style GET of a managed cluster
    assert cluster["powerState"] == {"code": "Running"}
    assert cluster["nodeResourceGroup"] == "MC_rg-shop_aks-shop_westeurope"
    assert cluster["currentKubernetesVersion"] and cluster["agentPoolProfiles"][0]["mode"] == "System"
    assert cluster["identity"]["type"] == "SystemAssigned" and cluster["enableRbac"] is True
    outbound = cluster["networkProfile"]["loadBalancerProfile"]["effectiveOutboundIPs"][0]["id"]
    assert "/resourceGroups/MC_rg-shop_aks-shop_westeurope/providers/Microsoft.Network/publicIPAddresses/" in outbound
    assert identity["clientId"] and identity["principalId"] and identity["tenantId"] == cloud.tenant_id
    assert tagged["properties"]["tags"] == {"sc-group": "shop"}
    sql_row = next(row for row in support if row["source"] == "aks" and row["target"] == "sql")
    assert sql_row["auth_types"] == [
        "secret"
    ]  # FACTS.md section 10: "azure-cli 2.91.0 offers only `--secret` for AKS -> SQL"

    # the converted kubeconfig: kubelogin --login azurecli, a token for the AKS server id from `az`
    kubeconfig = shell.kubeconfig.read_text()
    assert "--login\n      - azurecli" in kubeconfig and "6dae42f8-4368-4678-94ff-3960e28e3630" in kubeconfig
    listed, registered, namespaces, deployments, unconnected = together(
        lambda: shell.az("resource", "list", "--tag", "sc-group=shop"),
        lambda: shell.az("provider", "register", "-n", "Microsoft.KubernetesConfiguration", "--wait"),
        lambda: shell.kubectl("get", "ns"),
        lambda: shell.kubectl("get", "deploy", "-n", "shop"),
        lambda: shell.az("identity", "federated-credential", "list", "-g", "rg-shop", "--identity-name",
                         "id-shop-workloads"),
    )  # fmt: skip
    assert [(r["id"], r["provisioningState"]) for r in listed] == [(DATABASE, "Succeeded")]  # $expand
    assert registered is None and unconnected == []
    # FACTS.md section 10: "the API server answers server-side Tables (`NAME STATUS AGE` for namespaces,
    # `NAME READY UP-TO-DATE AVAILABLE AGE` for deployments)"
    assert namespaces[0] == ["NAME", "STATUS", "AGE"] and ["shop", "Active"] in [r[:2] for r in namespaces]
    assert deployments[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert [r[0] for r in deployments[1:]] == ["api", "web"]

    secret_connection, identity_connection = together(
        lambda: shell.az("aks", "connection", "create", "sql", "--connection", "orders_sql", "--source-id", CLUSTER,
                         "--target-id", DATABASE, "--secret", "name=app", "secret=Orders-Pw-1", "--client-type",
                         "python", "--kube-namespace", "shop"),
        lambda: shell.az("aks", "connection", "create", "cognitiveservices", "--connection", "openai_wi",
                         "--source-id", CLUSTER, "--target-id", OPENAI, "--workload-identity", IDENTITY,
                         "--client-type", "python", "--kube-namespace", "shop"),
    )  # fmt: skip
    assert secret_connection["provisioningState"] == "Succeeded" and secret_connection["scope"] == "shop"
    assert identity_connection["authInfo"]["authType"] == "userAssignedIdentity"
    assert identity_connection["authInfo"]["clientId"] == identity["clientId"]

    connections, shown, configurations, validation, federated = together(
        lambda: shell.az("aks", "connection", "list", "--source-id", CLUSTER),
        lambda: shell.az("aks", "connection", "show", "--id", f"{LINKERS}/orders_sql"),
        lambda: shell.az("aks", "connection", "list-configuration", "--id", f"{LINKERS}/orders_sql"),
        lambda: shell.az("aks", "connection", "validate", "--id", f"{LINKERS}/openai_wi"),
        lambda: shell.az("identity", "federated-credential", "list", "-g", "rg-shop", "--identity-name",
                         "id-shop-workloads"),
    )  # fmt: skip
    assert sorted(c["name"] for c in connections) == ["openai_wi", "orders_sql"]
    # FACTS.md section 10: "GET of a secret-auth linker keeps `authInfo.secretInfo: {"secretType": "rawValue"}`"
    assert shown["authInfo"]["authType"] == "secret" and shown["authInfo"]["name"] == "app"
    assert (shown["authInfo"]["secretInfo"] or {}).get("secretType") == "rawValue"
    assert "Orders-Pw-1" not in json.dumps(shown)
    # FACTS.md sections 2 and 10: SQL secret keys for python, credential values "", `description: ""`
    keys = {c["name"]: c for c in configurations["configurations"]}
    assert set(keys) == {"AZURE_SQL_SERVER", "AZURE_SQL_PORT", "AZURE_SQL_DATABASE", "AZURE_SQL_USER",
                         "AZURE_SQL_PASSWORD"}  # fmt: skip
    assert (
        keys["AZURE_SQL_PASSWORD"]["value"] == ""
        and keys["AZURE_SQL_SERVER"]["value"] == "sql-shop.database.windows.net"
    )
    assert all(c["description"] == "" for c in keys.values())
    # FACTS.md section 10: validationDetail names are sentences, 5 items for workload identity, all success
    assert len(validation) == 5 and {v["result"] for v in validation} == {"success"}
    assert "Target resource existence validated." in [v["name"] for v in validation]
    # FACTS.md section 1: the federated credential Service Connector made for the workload-identity connection
    (credential,) = federated
    assert credential["subject"] == f"system:serviceaccount:shop:sc-account-{identity['clientId']}"
    assert credential["issuer"].startswith("https://westeurope.oic.prod-aks.azure.com/")

    shell.run("aks", "connection", "delete", "--id", f"{LINKERS}/orders_sql", "--yes")
    remaining, secrets = together(
        lambda: shell.az("aks", "connection", "list", "--source-id", CLUSTER),
        lambda: shell.kubectl("get", "secrets", "-n", "shop"),
    )
    assert [c["name"] for c in remaining] == ["openai_wi"]
    # FACTS.md section 1: "deleting a connection does NOT delete the Kubernetes secret"
    assert secrets[0] == ["NAME", "TYPE", "DATA", "AGE"] and "sc-orderssql-secret" in [r[0] for r in secrets]

    elapsed = time.monotonic() - started
    slowest = sorted(shell.timings.items(), key=lambda item: -item[1])[:3]
    request.node.user_properties.append(("azure_cli_seconds", round(elapsed, 1)))
    print(f"\nAzure CLI walk-through: {len(shell.timings)} commands in {elapsed:.1f}s; slowest {slowest}")
