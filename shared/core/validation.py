"""Which connections a sweep asks Service Connector to validate. Pure.

For an AKS source `validateLinker` adds little to the sweep's own evidence (it always reports success: FACTS.md
section 1) and costs a POST plus its LRO polls, which ARM counts against the principal's
buckets. So it is spent where it can tell something: every connection that is about to change or is not
Succeeded, and otherwise each connection once per `every_hours` (SC_VALIDATE_EVERY_HOURS), in an hourly slot
spread evenly over the estate, all within the run's SC_VALIDATE_BUDGET (app-wide in a fanned-out sweep).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime


def validation_slot(cluster_position: int, connection_position: int, every_hours: int) -> int:
    """The hour of the cycle in which a connection is validated: consecutive clusters start one slot apart, so the
    estate's connections fill the slots evenly whatever each cluster holds (no hash clumps)."""
    return (cluster_position + connection_position) % every_hours


def due_for_validation(
    names: Sequence[str], urgent: Collection[str], cluster_position: int, now: datetime, every_hours: int
) -> list[str]:
    """`names` (a cluster's connections) due now, in the order the budget is spent: the urgent first, then those
    whose slot is this hour's."""
    hour = int(now.timestamp() // 3600) % every_hours
    ordered = sorted(names)
    scheduled = [
        name
        for position, name in enumerate(ordered)
        if name not in urgent and validation_slot(cluster_position, position, every_hours) == hour
    ]
    return [name for name in ordered if name in urgent] + scheduled
