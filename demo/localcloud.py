"""Run `python -m emulator serve` as a child process, the way a developer runs it by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


class LocalCloudProcess:
    def __init__(self, scenario: Path, workdir: Path):
        self.scenario = scenario
        self.workdir = workdir
        self.env_file = workdir / "local-cloud.env"
        self.process: subprocess.Popen[str] | None = None
        self.info: dict = {}

    def __enter__(self) -> LocalCloudProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "emulator", "serve", "--scenario", str(self.scenario)]
        command += ["--env-file", str(self.env_file), "--workdir", str(self.workdir)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the local cloud exited before it was ready; run `python -m emulator serve` to see why")
        self.info = json.loads(line)
        return self

    def environment(self) -> dict[str, str]:
        pairs = (line.split("=", 1) for line in self.env_file.read_text().splitlines() if "=" in line)
        return dict(pairs)

    def apply_environment(self) -> None:
        os.environ.update(self.environment())

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
