"""The composition root: settings -> adapters -> the reconciler -> the drivers. Nothing else builds them.

    Application(settings)            everything, wired once (one per process in the Functions: `application()`)
      .reconciler                    the one reconciler (shared.service.reconciler)
      .runs                          makes each invocation's Run: its budgets (app-wide in the storage account when
                                     there is one), caches, dry-run (shared.service.run)
      .events                        driver: events and the delayed queue (route -> reconcile)
      .applier                       driver: the CLI's plan and apply
      .sweeper                       driver: the sweep (judge -> reconcile -> orphans)
      .wiring                        driver: wire_timer (named workloads that exist and lack wiring -> patches)

The drivers hold the reconciler; the reconciler holds the adapters; nothing holds the Application."""

from __future__ import annotations

import functools
from datetime import timedelta

from azure.core.credentials import TokenCredential

from shared.adapters.azure.arm import Arm
from shared.adapters.azure.clients import AzureClients
from shared.adapters.azure.keyvault import KeyVault
from shared.adapters.budgets import BlobCounters
from shared.adapters.kube.client import KubeClients
from shared.adapters.storage import LinkerIndex, SharedFacts
from shared.config import ConfigError, Settings, StorageSettings
from shared.core.planner import PlannerSettings
from shared.service.apply import ApplyDriver
from shared.service.events import EventDriver
from shared.service.executor import Executor
from shared.service.inventory import Inventory
from shared.service.reconciler import Reconciler
from shared.service.routing import Router
from shared.service.run import Caches, Runs
from shared.service.sweep import Sweeper
from shared.service.wiring import WireDriver


class Application:
    def __init__(
        self, settings: Settings, credential: TokenCredential | None = None, storage: StorageSettings | None = None
    ):
        """`storage`: the app's storage account, for the app-wide budgets, the linker index and the facts every
        instance shares; by default AzureWebJobsStorage when it is set (the Functions always have it). Without it (a
        CLI on a workstation) the budgets count this process only (`runs.app_wide`), routing scans small estates'
        linkers, and what does not change per event is kept for the process."""
        self.settings = settings
        storage = storage or _storage()
        index = LinkerIndex.from_settings(storage) if storage else None
        facts = SharedFacts.from_settings(storage) if storage else None
        clients = AzureClients(settings, credential)
        self.arm = arm = Arm(clients)
        kube = KubeClients(clients, facts)
        keyvault = KeyVault(clients)
        caches = Caches()  # one per process: the reads that stay true longer than a run
        self.inventory = Inventory(arm, kube, settings.subscriptions, settings.protected_namespaces, keyvault,
                                   caches=caches, facts=facts)  # fmt: skip
        executor = Executor(arm, kube, keyvault, settings.protected_namespaces,
                            timedelta(hours=settings.revert_window_hours), index=index)  # fmt: skip
        planner = PlannerSettings(
            settings.protected_namespaces, settings.keyvault_dns_suffixes, frozenset(settings.subscriptions),
            settings.gitops_wiring, timedelta(days=settings.secret_expiry_warning_days),
        )  # fmt: skip
        self.reconciler = Reconciler(self.inventory, executor, planner)
        self.runs = Runs(settings, caches, counters=BlobCounters.from_settings(storage) if storage else None)
        self.index = index
        self.events = EventDriver(settings, self.inventory, Router(arm, index), self.reconciler, self.runs, planner)
        self.applier = ApplyDriver(self.inventory, self.reconciler, self.runs)
        self.sweeper = Sweeper(settings, arm, self.inventory, self.reconciler, self.runs, index)
        self.wiring = WireDriver(settings, self.inventory, kube, self.reconciler, self.runs, planner)


def _storage() -> StorageSettings | None:
    try:
        return StorageSettings.from_env()
    except ConfigError:  # not configured: a CLI on a workstation
        return None


@functools.cache
def application() -> Application:
    """One per process (a Functions worker): clients, tokens, connection pools and caches are reused across calls."""
    return Application(Settings.from_env())
