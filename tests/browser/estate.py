"""A report of a large estate, made from the product's own result types: 300 clusters over 3 subscriptions and
30 resource groups, 3 connections each, a few of every verdict, orphans, findings and changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from shared import report
from shared.core.codes import Code, Finding
from shared.core.model import ObjectKind
from shared.core.orphans import Orphan, OrphanState
from shared.core.verdicts import Reason, Status, Verdict, verdict_of
from shared.service.results import ClusterSweep, SweepResult

SUBSCRIPTIONS = ("c0ffee00-0000-4000-8000-00000000d370", "c0ffee00-0000-4000-8000-00000000d371",
                 "c0ffee00-0000-4000-8000-00000000d372")  # fmt: skip
TROUBLE = [  # (weight, reasons): what a sweep of a large estate finds
    (31, [(Code.WORKLOAD_NOT_FOUND, "deployment/api does not exist", "fix sc-workloads")]),
    (12, [(Code.LINKER_MISSING, "the connection does not exist", "sc-autopilot creates it")]),
    (20, [(Code.WORKLOAD_NOT_WIRED, "deployment/api: container api lacks envFrom", "sc-autopilot rewires it")]),
    (10, [(Code.SECRET_KEYS_MISSING, "secret lacks AZURE_SQL_PASSWORD", "sc-autopilot puts the connection again")]),
    (8, [(Code.LINKER_PROVISIONING, "Updating", "wait for Service Connector")]),
    (6, [(Code.EXTENSION_NOT_READY, "sc-extension is Failed", "check the extension in the portal")]),
    (5, [(Code.NOT_WANTED, "no longer asked for by tags", "nothing: the wiring is removed")]),
]


def large_report(clusters: int = 300, per_cluster: int = 3, seed: int = 300, dry_run: bool = False) -> dict:
    rng = random.Random(seed)
    sweeps = []
    weights = [w for w, _ in TROUBLE]
    total = clusters * per_cluster
    for index in range(clusters):
        subscription = SUBSCRIPTIONS[index % len(SUBSCRIPTIONS)]
        group = f"rg-team-{index % 30:02d}"
        cluster = (f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/"
                   f"managedClusters/aks-{index:04d}")  # fmt: skip
        sweep = ClusterSweep(cluster)
        for n in range(per_cluster):
            target = (f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Sql/servers/"
                      f"sql-{index:04d}/databases/db{n}")  # fmt: skip
            reasons: tuple[Reason, ...] = ()
            if rng.random() < sum(weights) / total:
                _, picked = rng.choices(TROUBLE, weights)[0]
                reasons = tuple(Reason(code, message, fix) for code, message, fix in picked)
            status = verdict_of(reasons)
            repaired = status is Status.DRIFTED and not dry_run and rng.random() < 0.7
            sweep.verdicts.append(Verdict(cluster, f"scap_{index:04d}{n}abcd_db{n}", target, status, reasons, repaired))
            if repaired:
                sweep.changes.append(f"put linker scap_{index:04d}{n}abcd_db{n} on aks-{index:04d}: repaired")
        if index % 20 == 7:
            sweep.orphans.append(
                Orphan(
                    ObjectKind.SECRET, "shop", f"sc-old{index:04d}-secret", "2026-11-30T10:00:00Z", OrphanState.WAITING
                )
            )
        if index % 40 == 5:  # an error that blocks a connection before it has a verdict: counted on the Error card
            sweep.findings.append(Finding(Code.CONSENT_MISSING, cluster, "namespace payments does not let db0 in",
                                          "kubectl annotate namespace payments sc-autopilot.io/allowed-targets=...",
                                          "sc-namespace"))  # fmt: skip
        if index % 60 == 11:
            sweep.orphans.append(Orphan(ObjectKind.SECRET, "shop", f"sc-gone{index:04d}-secret", "2026-11-29T10:00:00Z",
                                        OrphanState.DELETED))  # fmt: skip
        if index % 25 == 3:
            sweep.findings.append(Finding(Code.CONTAINER_NOT_FOUND, cluster, "deployment/web has no container 'web'",
                                          "fix the :container suffix in sc-workloads", "sc-workloads"))  # fmt: skip
        sweeps.append(sweep)
    return report.to_json(SweepResult(datetime(2026, 12, 1, 12, 0, tzinfo=UTC), dry_run, sweeps))
