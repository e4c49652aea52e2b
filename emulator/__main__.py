"""`python -m emulator serve --scenario FILE [--env-file PATH]`: run the local cloud until killed."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from emulator.runtime import start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the local cloud from a scenario file")
    serve.add_argument("--scenario", required=True, type=Path, help="scenario YAML (see docs/emulator.md)")
    serve.add_argument("--env-file", type=Path, help="also write the app settings as KEY=VALUE lines here")
    serve.add_argument("--workdir", type=Path, help="where to write the CA bundle (default: a temp dir)")
    serve.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr)

    running = start(args.scenario, args.workdir)
    if args.env_file:
        args.env_file.write_text("".join(f"{k}={v}\n" for k, v in running.environment().items()))
    print(json.dumps(running.info()), flush=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
