"""README's Play section, run as written: its bash block is extracted from README.md and run in a scratch copy of
the repository's root (the venvs and packages linked, not copied) with the real Azure CLI. The two long-running
commands (`make emulator`, `sc-autopilot watch`: "shell 1", "shell 2") run in the background; the rest runs in
order in one bash, as a person pastes it into shell 3. Only what a person does by eye is added: waiting for the
local cloud's settings file and for watch's "watching:" line before going on."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from shared.core.ids import ResourceRef
from shared.core.naming import linker_name, secret_name
from tests.conftest import DATABASE, ROOT
from tests.fidelity.azcli.shell import AZ, MARKS

pytestmark = [*MARKS, pytest.mark.timeout(420)]
LINKED = [".venv", ".venv-az", "emulator", "tools", "shared", "functions"]
COPIED = ["Makefile", "requirements.txt", "requirements-dev.txt", "pyproject.toml"]
READY = {"# shell 1": "[ -s .local-cloud.env ]", "# shell 2": "grep -q '^watching:' shell2.log"}


def play_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Play") :]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def as_script(block: str) -> str:
    """Background the "shell 1"/"shell 2" lines (logs in shellN.log), then wait for what their owner waits for."""
    lines = []
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        shell = next((tag for tag in READY if f"#{comment}".startswith(tag)), None)
        if shell is None or not command.strip():
            lines.append(line)
            continue
        lines.append(f"{command.strip()} > shell{shell[-1]}.log 2>&1 &")
        lines.append(f"for _ in $(seq 600); do {READY[shell]} && break; sleep 0.2; done; {READY[shell]}")
    return "set -e\n" + "\n".join(lines) + "\n"


def scratch_root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for name in LINKED:
        (root / name).symlink_to(ROOT / name)
    for name in COPIED:  # copied with an old time, so make finds .venv/.installed up to date and installs nothing
        (root / name).write_bytes((ROOT / name).read_bytes())
        os.utime(root / name, (0, 0))
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_play_section_runs_as_written(tmp_path):
    assert AZ.exists()
    root = scratch_root(tmp_path)
    script = as_script(play_block())
    assert "make emulator" in script and "sc-autopilot watch" in script and "kubectl get deployment api" in script
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SC_", "AZURE_", "IDENTITY_", "LOCAL_CLOUD"))}
    env |= {"HOME": str(home), "SC_WATCH_PORT": str(free_port()), "AZURE_CORE_COLLECT_TELEMETRY": "false"}
    started = time.monotonic()
    shell = subprocess.Popen(["bash", "-c", script], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)  # fmt: skip
    try:
        out, err = shell.communicate(timeout=360)
    finally:
        os.killpg(shell.pid, signal.SIGTERM)  # the background shells: the local cloud and watch
    elapsed = time.monotonic() - started
    watch_log = (root / "shell2.log").read_text()
    assert shell.returncode == 0, (
        f"{err}\n--- watch:\n{watch_log}\n--- local cloud:\n{(root / 'shell1.log').read_text()}"
    )
    linker = linker_name(ResourceRef.parse(DATABASE), "shop")
    assert linker in out  # az aks connection list -o table
    assert f'"secretRef":{{"name":"{secret_name(linker)}"}}' in out  # kubectl: api reads the connection's secret
    assert "event: orders" in watch_log and linker in watch_log.split("event: orders")[1], watch_log  # watch reacted
    print(f"\nPlay ran in {elapsed:.1f}s")
