"""Generated estates for the benchmark: N clusters, each with its own group of 3 targets x 2 workloads.

Every cluster lives in its own resource group (as teams' clusters do, and ARM caps 800 resources of a type per
group) in one subscription, so every call shares one set of ARM token buckets: the worst case, and the one the
floor max(0, R - 250) / 25 s describes.
"""

from __future__ import annotations

SUBSCRIPTION = "be4c0000-0000-4000-8000-00000000be4c"
TENANT = "72f988bf-0000-4000-8000-000000000001"
VAULT = "kv-bench"
PASSWORD_URL = f"https://{VAULT}.vault.azure.net/secrets/sql-password"
NAMESPACE = "app"
ALLOWED_TARGETS = "sc-autopilot.io/allowed-targets"
WORKLOADS_PER_TARGET = 2
# two SQL databases (secret auth, password from Key Vault) and one Azure OpenAI account (workload identity)
TARGETS_PER_GROUP = 3
APP_PRINCIPAL = "sc-autopilot"
OPERATOR = "platform-admin"


def cluster_id(index: int) -> str:
    return f"{_rg_id(index)}/providers/Microsoft.ContainerService/managedClusters/aks-{_suffix(index)}"


def sql_id(index: int, database: int = 1) -> str:
    return f"{_rg_id(index)}/providers/Microsoft.Sql/servers/sql-{_suffix(index)}/databases/db{database}"


def openai_id(index: int) -> str:
    return f"{_rg_id(index)}/providers/Microsoft.CognitiveServices/accounts/oai-{_suffix(index)}"


def generate(clusters: int, *, arm_ms: int = 30, kube_ms: int = 5, throttling: bool = True) -> dict:
    """A scenario (emulator/scenarios format, docs/emulator.md) with everything tagged and nothing connected."""
    scope = f"/subscriptions/{SUBSCRIPTION}"
    everything = [{"scope": scope, "actions": ["*"], "data_actions": ["*"]}]
    registered = {"Microsoft.ServiceLinker": "Registered", "Microsoft.KubernetesConfiguration": "Registered"}
    return {
        "tenant_id": TENANT,
        "lro_polls": 1,
        "latency": {"arm_ms": arm_ms, "kube_ms": kube_ms},
        "throttling": {"enabled": throttling},
        "principals": [
            {"name": APP_PRINCIPAL, "managed_identity": True, "grants": everything},
            {"name": OPERATOR, "grants": everything},
        ],
        "subscriptions": [
            {
                "id": SUBSCRIPTION,
                "name": "bench",
                "providers": registered,
                "resource_groups": [_shared_group()] + [_group(i) for i in range(clusters)],
            }
        ],
    }


def _suffix(index: int) -> str:
    return f"g{index:04d}"


def _rg_id(index: int) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-{_suffix(index)}"


def _shared_group() -> dict:
    """The vault's owner lets every target of the subscription read the password (the sc-targets consent)."""
    secret = {"value": "Bench-0nly-P@ss", "tags": {"sc-targets": f"/subscriptions/{SUBSCRIPTION}"}}
    return {"name": "rg-bench-shared", "key_vaults": [{"name": VAULT, "secrets": {"sql-password": secret}}]}


def _group(index: int) -> dict:
    group = _suffix(index)
    workloads = [f"w{n}" for n in range(1, TARGETS_PER_GROUP * WORKLOADS_PER_TARGET + 1)]
    pairs = [workloads[i : i + WORKLOADS_PER_TARGET] for i in range(0, len(workloads), WORKLOADS_PER_TARGET)]

    def tags(pair: list[str], **extra: str) -> dict:
        return {"sc-group": group, "sc-namespace": NAMESPACE, "sc-workloads": ",".join(f"deploy/{w}" for w in pair),
                **extra}  # fmt: skip

    sql = {"sc-sql-user": "app", "sc-sql-password": PASSWORD_URL}
    return {
        "name": f"rg-{group}",
        "clusters": [
            {
                "name": f"aks-{group}",
                "oidc_issuer": True,
                "workload_identity": True,
                "tags": {"sc-group": group, "sc-identity": f"id-{group}"},
                "kubernetes": {
                    # the namespace's owner lets the group's own targets in (consent)
                    "namespaces": [{"name": NAMESPACE, "annotations": {ALLOWED_TARGETS: _rg_id(index)}}],
                    "workloads": [{"kind": "Deployment", "name": w, "namespace": NAMESPACE} for w in workloads],
                },
            }
        ],
        "sql_servers": [
            {
                "name": f"sql-{group}",
                "databases": [{"name": f"db{n}", "tags": tags(pairs[n - 1], **sql)} for n in (1, 2)],
            }
        ],
        "openai_accounts": [{"name": f"oai-{group}", "kind": "OpenAI", "tags": tags(pairs[2])}],
        "identities": [{"name": f"id-{group}", "tags": {"sc-namespaces": NAMESPACE}}],
    }
