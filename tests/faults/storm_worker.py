"""One Functions worker process in miniature, for the removal-budget storm: the app indexed as the Python worker
indexes it, `on_resource_event` called once per event of the file given, with the environment this process
inherited (the local cloud, AzureWebJobsStorage on Azurite, SC_MAX_REMOVALS_PER_HOUR). Prints one JSON line: the
codes of the findings each invocation reported (observed on their way out, as tests/badinput/conftest.py does)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.service.events import EventDriver
from tests.conftest import indexed_functions
from tests.e2e.test_requeue import as_event


def main(path: str) -> None:
    codes: list[str] = []
    handle = EventDriver.handle

    def observed(self, events):
        report = handle(self, events)
        codes.extend(str(f.code) for f in report.findings)
        return report

    EventDriver.handle = observed
    function = indexed_functions()["on_resource_event"].get_user_function()
    for raw in json.loads(Path(path).read_text()):
        function(as_event(raw))
    print(json.dumps({"codes": codes}))


if __name__ == "__main__":
    main(sys.argv[1])
