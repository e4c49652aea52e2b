"""Where the local cloud is reachable, known only once its listener is bound."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Site:
    """Filled in by `runtime.start`; services read it when they build absolute URLs or kubeconfigs."""

    arm_endpoint: str = ""
    ca_pem: str = ""
