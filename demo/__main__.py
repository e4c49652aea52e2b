"""`make demo`: a platform engineer tags resources; sc-autopilot wires the workloads. No Azure account needed:
everything runs on the embedded local cloud, through the same code the Functions app runs in Azure."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.servicelinker import ServiceLinkerManagementClient
from rich.console import Console

from demo.localcloud import LocalCloudProcess
from emulator.client import AdminClient, PersonCredential
from shared import report
from shared.cli.output import VERDICT_STYLES
from shared.config import Settings
from shared.container import Application
from shared.core.eventgrid import HANDLED_EVENT_TYPES, HANDLED_OPERATIONS
from shared.core.manifests import pod_spec, pod_template
from shared.core.verdicts import Status
from shared.service.results import SweepResult

SCENARIO = Path(__file__).resolve().parent.parent / "emulator" / "scenarios" / "demo.yaml"
WRITES = {"PUT", "PATCH", "DELETE"}
PASSWORD_URL = "https://kv-shop.vault.azure.net/secrets/sql-orders-password"  # noqa: S105 - a URL, not a password
console = Console(width=110, soft_wrap=True)  # fixes and names are copied: never wrapped mid-command
ENV_FROM = "/spec/template/spec/containers/0/envFrom"
REPORT_DIR = Path(tempfile.gettempdir()) / "sc-autopilot-demo-report"  # one place, overwritten by each run


class Demo:
    def __init__(self, cloud: LocalCloudProcess):
        self.admin = AdminClient(cloud.info["arm_endpoint"], cloud.info["ca_bundle"])
        self.arm_endpoint = cloud.info["arm_endpoint"]
        self.sub = cloud.info["subscriptions"][0]
        rg = f"/subscriptions/{self.sub}/resourceGroups/rg-shop/providers"
        self.cluster = f"{rg}/Microsoft.ContainerService/managedClusters/aks-shop"
        self.database = f"{rg}/Microsoft.Sql/servers/sql-shop/databases/orders"
        self.openai = f"{rg}/Microsoft.CognitiveServices/accounts/oai-shop"
        self.engineer = ResourceManagementClient(
            PersonCredential(self.admin, "platform-admin"), self.sub, base_url=os.environ["SC_ARM_ENDPOINT"],
            credential_scopes=["https://management.azure.com/.default"], polling_interval=0,
        )  # fmt: skip
        self.app = Application(Settings.from_env())
        self.events_seen = 0

    def tag(self, resource_id: str, tags: dict[str, str], operation: str = "Merge") -> None:
        body = {"operation": operation, "properties": {"tags": tags}}
        self.engineer.tags.begin_update_at_scope(resource_id, body).result()

    def deliver_events(self) -> None:
        """What Event Grid delivers to the function: the subscription topic's new events."""
        emitted = self.admin.get("events", since=self.events_seen)["events"]
        self.events_seen += len(emitted)
        # The event subscription's filter (infra/modules/events.bicep) lets through only what the code handles.
        events = [e for e in emitted if e["eventType"] in HANDLED_EVENT_TYPES
                  and e["data"]["operationName"] in HANDLED_OPERATIONS]  # fmt: skip
        console.print(f"   Event Grid delivers {len(events)} event(s): "
                      + ", ".join(sorted({e['data']['operationName'] for e in events})))  # fmt: skip
        self.show(self.app.events.handle(events))

    def show(self, report) -> None:
        for line in report.applied:
            console.print(f"   [green]✓[/] {line}")
        for finding in report.findings:
            console.print(f"   [yellow]![/] {finding.code}: {finding.message}\n     fix: {finding.fix}")
        if not report.applied:
            console.print("   (nothing to change)")

    def leave_a_stale_secret(self) -> None:
        """`az aks connection create` then `delete` by a person: the linker goes, its secret stays."""
        linkers = ServiceLinkerManagementClient(
            PersonCredential(self.admin, "platform-admin"), api_version="2024-04-01",
            base_url=os.environ["SC_ARM_ENDPOINT"], credential_scopes=["https://management.azure.com/.default"],
            polling_interval=0,
        )  # fmt: skip
        body = {"properties": {"targetService": {"type": "AzureResource", "id": self.database},
                "authInfo": {"authType": "secret", "name": "reporting",
                             "secretInfo": {"secretType": "rawValue", "value": "typed-by-hand"}},
                "clientType": "python", "scope": "shop"}}  # fmt: skip
        linkers.linker.begin_create_or_update(self.cluster, "byhand_orders", body).result()
        linkers.linker.begin_delete(self.cluster, "byhand_orders").result()

    def trouble(self) -> None:
        """An Error and a drift for the last sweep to find: an OpenAI account tagged for a Deployment that does not
        exist (a person must fix the tag), the worker's envFrom removed by hand (the sweep repairs it)."""
        billing = self.openai.rsplit("/", 1)[0] + "/oai-billing"
        self.engineer.resources.begin_create_or_update_by_id(
            billing, api_version="2024-10-01", parameters={"location": "westeurope", "kind": "OpenAI",
                                                           "sku": {"name": "S0"}},
        ).result()  # fmt: skip
        self.tag(billing, {"sc-group": "shop", "sc-namespace": "shop", "sc-auth": "secret",
                           "sc-workloads": "deploy/billing"})  # fmt: skip
        self.app.applier.apply()  # the connection is made; the workload it names is nowhere
        self.kube_patch("statefulsets", "worker", [{"op": "remove", "path": ENV_FROM}])
        console.print(f"   drifted: {self.describe('StatefulSet', 'worker')}")

    def kube_patch(self, plural: str, name: str, patch: list[dict]) -> None:
        """A person's kubectl edit, straight to the cluster's API server."""
        token = self.admin.token("platform-admin", "6dae42f8-4368-4678-94ff-3960e28e3630")
        key = {k.lower(): v for k, v in self.admin.state()["clusters"].items()}[self.cluster.lower()]["key"]
        self.admin.session.patch(
            f"{self.arm_endpoint}/clusters/{key}/apis/apps/v1/namespaces/shop/{plural}/{name}",
            json=patch,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json-patch+json"},
        ).raise_for_status()

    def workload(self, kind: str, name: str) -> dict:
        for item in self.admin.cluster_objects(self.cluster).get(kind.lower() + "s", []):
            if item["metadata"]["name"] == name and item["metadata"]["namespace"] == "shop":
                return item
        raise LookupError(name)

    def describe(self, kind: str, name: str) -> str:
        manifest = self.workload(kind, name)
        spec = pod_spec(manifest)
        wiring = []
        for container in spec["containers"]:
            refs = [e["secretRef"]["name"] for e in container.get("envFrom") or [] if "secretRef" in e]
            wiring.append(f"{container['name']}: envFrom {refs or '-'}")
        label = (pod_template(manifest).get("metadata") or {}).get("labels", {}).get("azure.workload.identity/use")
        return (f"{kind.lower()}/{name}: {'; '.join(wiring)}; serviceAccount "
                f"{spec.get('serviceAccountName', 'default')}; workload-identity label {label or '-'}")  # fmt: skip


def _summary(result: SweepResult) -> str:
    verdicts = Counter(v.status.value for c in result.clusters for v in c.verdicts)
    orphans = [f"{o.namespace}/{o.name}: {o.state}" for c in result.clusters for o in c.orphans]
    return f"{dict(verdicts)}; orphans {orphans or 'none'}"


def step(number: int, title: str, detail: str = "") -> None:
    console.print(f"\n[bold cyan]{number}. {title}[/]")
    if detail:
        console.print(f"   [dim]{detail}[/]")


def main() -> int:
    """The local cloud lives in a temporary directory removed at the end; only the report stays (one place)."""
    workdir = Path(tempfile.mkdtemp(prefix="sc-autopilot-demo-"))
    try:
        return run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(workdir: Path) -> int:
    with LocalCloudProcess(SCENARIO, workdir) as cloud:
        cloud.apply_environment()
        demo = Demo(cloud)
        step(1, "The local cloud is up",
             f"ARM, Service Connector, Key Vault, Event Grid and AKS at {cloud.info['arm_endpoint']}")  # fmt: skip

        step(2, "A platform engineer tags the cluster, the SQL database and the OpenAI account into group 'shop'")
        demo.tag(demo.cluster, {"sc-group": "shop", "sc-identity": "id-shop-workloads"})
        demo.tag(demo.database, {
            "sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/api,sts/worker",
            "sc-sql-user": "orders_app", "sc-sql-password": PASSWORD_URL,
        })  # fmt: skip
        demo.tag(
            demo.openai, {"sc-group": "shop", "sc-namespace": "shop", "sc-workloads": "deploy/web:web,cronjob/report"}
        )

        step(3, "sc-autopilot handles the events: connections, then wired workloads",
             "the SQL password goes from Key Vault straight into Service Connector; it is never logged")  # fmt: skip
        demo.deliver_events()
        for kind, name in (
            ("Deployment", "api"),
            ("StatefulSet", "worker"),
            ("Deployment", "web"),
            ("CronJob", "report"),
        ):
            console.print(f"   {demo.describe(kind, name)}")

        step(4, "Events are hints, state is the truth: a second pass changes nothing")
        mark = demo.admin.mark()
        demo.show(demo.app.applier.apply())
        writes = [r for r in demo.admin.requests_since(mark) if r["method"] in WRITES]
        console.print(f"   writes to ARM and Kubernetes during that pass: {len(writes)}")
        console.print("   Consent: database reporting is tagged into namespace payments, whose owner never let it in")
        demo.tag(f"{demo.database.rsplit('/', 1)[0]}/reporting", {
            "sc-group": "shop", "sc-namespace": "payments", "sc-sql-user": "reporting", "sc-sql-password": PASSWORD_URL,
        })  # fmt: skip
        demo.deliver_events()

        step(5, "Someone hand-edits the api Deployment and drops its envFrom; the next pass repairs it")
        demo.kube_patch("deployments", "api", [{"op": "remove", "path": ENV_FROM}])
        console.print(f"   drifted: {demo.describe('Deployment', 'api')}")
        demo.show(demo.app.applier.apply())
        console.print(f"   repaired: {demo.describe('Deployment', 'api')}")

        step(6, "The OpenAI account is deleted: the wiring is taken back, exactly what was added")
        demo.engineer.resources.begin_delete_by_id(demo.openai, api_version="2024-10-01").result()
        demo.deliver_events()
        console.print(f"   {demo.describe('Deployment', 'web')}")

        step(7, "Someone creates a connection by hand, then deletes it: Service Connector leaves its secret behind")
        demo.leave_a_stale_secret()
        console.print("   shop/sc-byhandorders-secret remains, referenced by nothing")

        step(8, "The compliance sweep: verdicts, then the orphan is marked, and cleaned after its grace period",
             "SC_CLEANUP_MODE=delete, SC_ORPHAN_GRACE_HOURS=24; the first sweep is dated 25 hours ago")  # fmt: skip
        os.environ.update({"SC_CLEANUP_MODE": "delete", "SC_ORPHAN_GRACE_HOURS": "24"})
        sweeper_app = Application(Settings.from_env())
        # The run's clock is explicit: the first sweep is dated a day ago (it marks the orphan then), so the second,
        # run now, finds the grace period over. Every report's generatedAt is then the time its sweep ran.
        first = sweeper_app.sweeper.run(now=datetime.now(UTC) - timedelta(hours=25))
        console.print(f"   first sweep: {_summary(first)}")

        step(9, "Meanwhile a team tags an OpenAI account for a Deployment not deployed yet; someone edits the worker",
             "the next sweep says what needs a person (Error) and repairs the drift (Drifted, repaired)")  # fmt: skip
        demo.trouble()
        later = sweeper_app.sweeper.run(now=datetime.now(UTC))
        console.print(f"   25 hours later (now): {_summary(later)}")
        for verdict in (v for c in later.clusters for v in c.verdicts if v.status is not Status.COMPLIANT):
            style = VERDICT_STYLES[verdict.status.value]
            for reason in verdict.reasons:
                repaired = " (repaired)" if verdict.repaired else ""
                console.print(f"   [{style}]{verdict.status.value}{repaired}[/] {verdict.connection}: {reason.code}: "
                              f"{reason.message}\n     fix: {reason.fix}")  # fmt: skip
        document = report.to_json(later)
        page = REPORT_DIR / "compliance-report.html"
        REPORT_DIR.mkdir(exist_ok=True)
        page.write_text(report.to_html(document, previous=[report.to_json(first)]))
        console.print(f"\n[bold]Done.[/] The compliance report: [link=file://{page}]{page}[/link]")
        console.print("Try it yourself: `make emulator`, then the `sc-autopilot` CLI (README).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
