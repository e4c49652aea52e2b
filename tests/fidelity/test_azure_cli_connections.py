"""The Service Connector commands of the seed tutorials, with the real Azure CLI against the local cloud:
`az aks connection create sql --secret …` and `create cognitiveservices --workload-identity …`, `list`, `show`,
`list-configuration`, `validate`, `delete`. Each checks what Azure prints (FACTS.md sections 1, 2 and 10).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import CLUSTER, DATABASE, IDENTITY, OPENAI
from tests.fidelity.azcli.shell import MARKS, shell_for, together

pytestmark = MARKS
LINKERS = f"{CLUSTER}/providers/Microsoft.ServiceLinker/linkers"


@pytest.fixture
def shell(make_cloud, tmp_path):
    return shell_for(make_cloud, tmp_path)


def test_service_connector_commands_of_the_tutorials_with_the_real_azure_cli(shell, request):
    started = time.monotonic()
    shell.log_in()
    identity, _, _ = together(
        lambda: shell.az("identity", "show", "--ids", IDENTITY),
        lambda: shell.az("provider", "register", "-n", "Microsoft.KubernetesConfiguration", "--wait"),
        lambda: shell.run("aks", "get-credentials", "-g", "rg-shop", "-n", "aks-shop", "--file", str(shell.kubeconfig)),
    )

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

    shell.report(request, started)
