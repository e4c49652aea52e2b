"""The real Azure CLI against the local cloud, as a platform engineer following the seed tutorials would use it: a
custom cloud registered from the local ARM, `az login --identity`, the provider, AKS, identity, tag and resource
commands, and kubectl through the kubeconfig `az aks get-credentials` writes. Each command checks what Azure prints
(FACTS.md sections 1, 5, 10). Service Connector's commands: test_azure_cli_connections.py.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import DATABASE, IDENTITY, SUB
from tests.fidelity.azcli.shell import MARKS, shell_for, together

pytestmark = MARKS


@pytest.fixture
def shell(make_cloud, tmp_path):
    return shell_for(make_cloud, tmp_path)


def test_a_platform_engineer_follows_the_tutorials_with_the_real_azure_cli(shell, request):
    started, cloud = time.monotonic(), shell.cloud
    accounts = shell.log_in()
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
    # FACTS.md section 10: "azure-cli 2.91.0 offers only `--secret` for AKS -> SQL"
    assert sql_row["auth_types"] == ["secret"]

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
    shell.report(request, started)
