"""The app's storage account for a bench run: the real Azure Storage emulator (npm azurite), in memory."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # public


@contextlib.contextmanager
def azurite(workdir: str) -> Iterator[str]:
    """Azurite on free loopback ports; yields its connection string (AzureWebJobsStorage)."""
    binary = ROOT / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        raise RuntimeError("Azurite is not installed: run `npm install` (make test does)")
    ports = []
    for _ in range(3):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    process = subprocess.Popen(
        [str(binary), "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--silent",
         "--blobHost", "127.0.0.1", "--blobPort", str(ports[0]), "--queueHost", "127.0.0.1",
         "--queuePort", str(ports[1]), "--tableHost", "127.0.0.1", "--tablePort", str(ports[2])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", ports[0])) == 0 and probe.close() is None:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("Azurite did not start within 30 s")
            time.sleep(0.1)
        yield (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{ports[0]}/devstoreaccount1;"
            f"QueueEndpoint=http://127.0.0.1:{ports[1]}/devstoreaccount1;"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
