"""Build tools/localkube from its pinned Go modules into a cache keyed by its sources, so a rebuild is a lookup.

`python -m emulator.realkube.build` (what `make kube` runs) prints the binary's path. Nothing prebuilt is fetched: the
Go toolchain downloads the pinned module sources (go.sum checks them) and compiles them here.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "tools" / "localkube"
CACHE = Path(os.environ.get("SC_LOCALKUBE_CACHE", Path.home() / ".cache" / "sc-autopilot" / "localkube"))
VERSION_PACKAGES = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")


class BuildError(RuntimeError):
    """The control plane could not be built; the message says what to install or look at."""


def source_key() -> str:
    """A digest of everything the binary is built from: go.mod, go.sum and our own Go sources."""
    digest = hashlib.sha256()
    for path in sorted([SOURCE / "go.mod", SOURCE / "go.sum", *SOURCE.glob("*.go")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def binary_path() -> Path:
    return CACHE / source_key() / "localkube"


def kubernetes_version() -> str:
    """The k8s.io/kubernetes release go.mod pins, e.g. v1.37.2."""
    match = re.search(r"^\s*k8s\.io/kubernetes (v\S+)", (SOURCE / "go.mod").read_text(), re.MULTILINE)
    if not match:
        raise BuildError(f"{SOURCE / 'go.mod'} pins no k8s.io/kubernetes release")
    return match.group(1)


def ensure_built(log=sys.stderr) -> Path:
    """The cached binary, built first if this source has none yet (minutes cold, seconds warm)."""
    target = binary_path()
    if target.is_file():
        return target
    go = shutil.which("go")
    if go is None:
        raise BuildError("the real control plane is built from source with Go (>= 1.26): install Go, then `make kube`")
    version = kubernetes_version()
    major, minor = version.lstrip("v").split(".")[:2]
    stamp = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean"}
    ldflags = ["-s", "-w"] + [
        f"-X {package}.{name}={value}" for package in VERSION_PACKAGES for name, value in stamp.items()
    ]
    partial = target.with_name(f"localkube.{os.getpid()}.partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"building localkube (Kubernetes {version}) into {target} ...", file=log, flush=True)
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - our own Go module, built by the Go toolchain on PATH
        [go, "build", "-ldflags", " ".join(ldflags), "-o", str(partial), "."],
        cwd=SOURCE,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildError(f"go build of {SOURCE} failed:\n{result.stderr[-4000:]}")
    partial.replace(target)  # atomic: a concurrent build (another xdist worker) just overwrites an identical binary
    print(f"built in {time.monotonic() - started:.0f} s", file=log, flush=True)
    return target


def main() -> int:
    try:
        print(ensure_built())
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
