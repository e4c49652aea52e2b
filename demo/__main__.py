"""`make demo`: the local cloud, and a Service Connector connection made through the real Azure SDKs.

No Azure account is needed: everything runs against the embedded local cloud (emulator/).
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
from pathlib import Path

import yaml
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.servicelinker import ServiceLinkerManagementClient
from kubernetes import client as k8s
from rich.console import Console

from demo.localcloud import LocalCloudProcess

SCENARIO = Path(__file__).resolve().parent.parent / "emulator" / "scenarios" / "demo.yaml"
ARM_SCOPE = "https://management.azure.com/.default"
console = Console()


def step(number: int, title: str, detail: str) -> None:
    console.print(f"\n[bold cyan]{number}. {title}[/]")
    console.print(f"   [dim]{detail}[/]")


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="sc-autopilot-demo-"))
    with LocalCloudProcess(SCENARIO, workdir) as cloud:
        cloud.apply_environment()
        sub = cloud.info["subscriptions"][0]
        kwargs = {"base_url": os.environ["SC_ARM_ENDPOINT"], "credential_scopes": [ARM_SCOPE], "polling_interval": 0}
        credential = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"])
        step(1, "The local cloud is up", f"ARM at {cloud.info['arm_endpoint']}; app settings in {cloud.env_file}")

        containers = ContainerServiceClient(credential, sub, **kwargs)
        cluster = next(iter(containers.managed_clusters.list()))
        step(
            2,
            "An AKS cluster, seen through azure-mgmt-containerservice",
            f"{cluster.name}: {cluster.provisioning_state}",
        )

        resources = ResourceManagementClient(credential, sub, **kwargs)
        resources.providers.register("Microsoft.KubernetesConfiguration")
        step(
            3, "Resource provider registered", "Microsoft.KubernetesConfiguration (Service Connector needs it for AKS)"
        )

        vault = SecretClient("https://kv-shop.vault.azure.net", credential)
        password = vault.get_secret("sql-orders-password").value
        step(4, "SQL password read from Key Vault", "through the real host name; the value is never printed")

        linkers = ServiceLinkerManagementClient(credential, api_version="2024-04-01", **kwargs)
        database = cluster.id.split("/providers/")[0] + "/providers/Microsoft.Sql/servers/sql-shop/databases/orders"
        body = {
            "properties": {
                "targetService": {"type": "AzureResource", "id": database},
                "authInfo": {"authType": "secret", "name": "orders_app",
                             "secretInfo": {"secretType": "rawValue", "value": password}},
                "clientType": "python",
                "scope": "shop",
            }
        }  # fmt: skip
        linker = linkers.linker.begin_create_or_update(cluster.id, "orders_sql", body).result()
        step(5, "Service Connector connection created", f"{linker.name}: {linker.provisioning_state} (an ARM LRO)")

        credentials = containers.managed_clusters.list_cluster_user_credentials("rg-shop", cluster.name)
        server = yaml.safe_load(credentials.kubeconfigs[0].value)["clusters"][0]["cluster"]
        ca_file = workdir / "cluster-ca.pem"
        ca_file.write_bytes(base64.b64decode(server["certificate-authority-data"]))
        config = k8s.Configuration()
        config.host, config.ssl_ca_cert = server["server"], str(ca_file)
        config.api_key = {
            "authorization": "Bearer " + credential.get_token("6dae42f8-4368-4678-94ff-3960e28e3630/.default").token
        }
        secret = k8s.CoreV1Api(k8s.ApiClient(config)).read_namespaced_secret("sc-orderssql-secret", "shop")
        step(
            6,
            "Its secret appeared in the cluster",
            f"shop/{secret.metadata.name} with keys {', '.join(sorted(secret.data))}",
        )

        console.print(
            "\n[bold]What still is manual[/] (sc-autopilot's job, issues 3-5): wiring workloads' envFrom and "
            "serviceAccountName from tags, noticing broken connections, and cleaning the secrets left behind."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
