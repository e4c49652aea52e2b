"""Running the real Azure CLI (azure-cli from PyPI, in .venv-az) and kubectl against a local cloud.

`make test` installs the CLI (`.venv-az/.installed`); run alone, the tests that use it are skipped until then.
Independent commands run concurrently (`together`): each `az` costs ~1.5 s of CPU to start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT, demo_spec

AZ_VENV = ROOT / ".venv-az"
AZ = AZ_VENV / "bin" / "az"
KUBECTL = Path(sys.executable).parent / "kubectl"
KUBELOGIN = ROOT / "tools" / "kubelogin"  # the local cloud's kubelogin (tools/kubelogin.py)
MARKS = [
    pytest.mark.skipif(not AZ.exists(), reason="the Azure CLI is not installed: run `make test`"),
    pytest.mark.timeout(300),  # a dozen CLI start-ups: under a shared machine's load, more than the default 120 s
]


class Shell:
    """Runs az / kubectl with the local cloud's settings, the ones `python -m emulator exec` gives a command (an
    AZURE_CONFIG_DIR of its own; the emulator's CA trusted through REQUESTS_CA_BUNDLE, the CLI's supported
    mechanism, never by turning TLS verification off)."""

    def __init__(self, cloud, home: Path):
        self.cloud = cloud
        self.kubeconfig = home / "kubeconfig"
        self.env = cloud.environment() | {
            "PATH": os.pathsep.join([str(KUBELOGIN.parent), str(AZ.parent), str(KUBECTL.parent), "/usr/bin", "/bin"]),
            "HOME": str(home),
            "KUBECONFIG": str(self.kubeconfig),  # where kubelogin convert-kubeconfig finds the file
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
            "AZURE_CORE_NO_COLOR": "true",
            "AZURE_LOGGING_ENABLE_LOG_FILE": "false",
        }
        self.timings: dict[str, float] = {}

    def run(self, *args: str, program: Path = AZ) -> str:
        started = time.monotonic()
        result = subprocess.run(
            [str(program), *args], env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        self.timings[" ".join(args[:3])] = time.monotonic() - started
        assert result.returncode == 0, f"{program.name} {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def az(self, *args: str) -> object:
        return json.loads(self.run(*args, "-o", "json") or "null")

    def kubectl(self, *args: str) -> list[list[str]]:
        return [line.split() for line in self.run(*args, program=KUBECTL).splitlines()]

    def log_in(self) -> list[dict]:
        """`az cloud register` (reads <arm>/metadata/endpoints without a token, FACTS.md section 10), `az cloud set`,
        `az login --identity` as the platform engineer (the App Service identity protocol; GET /subscriptions)."""
        self.run("cloud", "register", "-n", "LocalCloud", "--endpoint-resource-manager", self.cloud.arm_endpoint)
        self.run("cloud", "set", "-n", "LocalCloud")
        return self.az("login", "--identity", "--client-id", self.env["LOCAL_CLOUD_CLIENT_ID_PLATFORM_ADMIN"])

    def report(self, request: pytest.FixtureRequest, started: float) -> None:
        elapsed = time.monotonic() - started
        slowest = sorted(self.timings.items(), key=lambda item: -item[1])[:3]
        request.node.user_properties.append(("azure_cli_seconds", round(elapsed, 1)))
        print(f"\n{len(self.timings)} commands in {elapsed:.1f}s; slowest {slowest}")


def together(*calls: Callable[[], object]) -> list[object]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result() for f in [pool.submit(call) for call in calls]]


def shell_for(make_cloud, home: Path) -> Shell:
    """A fresh demo estate (Retry-After 1 s, so the CLI polls LROs every second, not every 30 s) and a shell."""
    cloud = make_cloud(demo_spec() | {"lro_retry_after": 1, "throttling": {"enabled": False}})
    return Shell(cloud, home)
