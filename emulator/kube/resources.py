"""The kinds the emulated API server serves, with their groups and scopes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    has_generation: bool = False  # workloads bump metadata.generation on spec changes

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",)),
    Kind("", "v1", "Secret", "secrets"),
    Kind("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    Kind("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    Kind("apps", "v1", "Deployment", "deployments", short_names=("deploy",), has_generation=True),
    Kind("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), has_generation=True),
    Kind("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), has_generation=True),
    Kind("batch", "v1", "Job", "jobs", has_generation=True),
    Kind("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), has_generation=True),
)
BY_PLURAL = {k.plural: k for k in KINDS}
BY_KIND = {k.kind: k for k in KINDS}
GROUPS = {"apps": "v1", "batch": "v1"}
