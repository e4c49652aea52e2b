"""The wiring timer: a workload named in `sc-workloads` but deployed after its tags (the usual order: infrastructure
first) is wired, or suggested when a GitOps tool owns it, within one SC_WIRE_SCHEDULE (default every 5 minutes):
no Azure event says a Deployment appeared. Kubernetes reads, no ARM write (shared/service/wiring.py)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.container import application

blueprint = func.Blueprint()
log = logging.getLogger("sc_autopilot.functions.wiring")


@blueprint.function_name("wire_timer")
@blueprint.timer_trigger(arg_name="timer", schedule="%SC_WIRE_SCHEDULE%")
def wire_timer(timer: func.TimerRequest) -> None:
    report = application().wiring.run()
    if not report.ok:  # a raise marks the invocation failed (the next schedule checks again)
        raise WiringCheckFailedError(report.summary())


class WiringCheckFailedError(RuntimeError):
    """Some cluster's wiring could not be read or written; its findings say which and why."""
