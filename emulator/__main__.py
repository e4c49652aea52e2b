"""`python -m emulator serve --scenario FILE [--env-file PATH]`: run the local cloud until killed.

`python -m emulator exec [--env-file PATH] -- COMMAND ...`: run one command with the settings `serve` wrote, e.g.
the real `az` or `sc-autopilot`, without changing the calling shell (the settings route HTTPS through the local
cloud's Key Vault proxy, which refuses every other host); `tools/` goes first on its PATH, so kubectl finds the
local cloud's `kubelogin` there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from emulator.events import Webhook
from emulator.runtime import start

TOOLS = Path(__file__).resolve().parent.parent / "tools"  # kubelogin for the local cloud (tools/kubelogin.py)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the local cloud from a scenario file")
    serve.add_argument("--scenario", required=True, type=Path, help="scenario YAML (see docs/emulator.md)")
    serve.add_argument("--env-file", type=Path, help="also write the app settings as KEY=VALUE lines here")
    serve.add_argument("--workdir", type=Path, help="where to write the CA bundle (default: a temp dir)")
    serve.add_argument("--log-level", default="WARNING")
    serve.add_argument(
        "--kube",
        choices=("emulated", "real"),
        help="each AKS cluster's Kubernetes API: the emulated one (default) or a real control plane (`make kube`)",
    )
    serve.add_argument(
        "--deliver-events-to", action="append", default=[], metavar="URL",
        help="an Event Grid subscription of every subscription topic and every vault's system topic (as the "
        "deployment subscribes the vaults it names): POST each event (EventGrid schema) to URL, "
        "e.g. `sc-autopilot watch` or the Functions host's /runtime/webhooks/eventgrid?functionName=on_resource_event",
    )  # fmt: skip
    run = commands.add_parser("exec", help="run one command with the local cloud's settings")
    run.add_argument("--env-file", type=Path, default=Path(".local-cloud.env"), help="what serve --env-file wrote")
    run.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND [ARG ...]")
    args = parser.parse_args(argv)
    if args.command == "exec":
        return _exec(parser, args.env_file, args.argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr)

    running = start(args.scenario, args.workdir, args.kube)
    arm = running.cloud.arm
    vaults = [v["id"] for sub in arm.subscriptions.values()
              for v in arm.of_type_under(f"/subscriptions/{sub.id}", "Microsoft.KeyVault/vaults")]  # fmt: skip
    for url in args.deliver_events_to:
        running.cloud.events.webhooks += [Webhook(url), *(Webhook(url, topic=vault) for vault in vaults)]
    if args.env_file:
        args.env_file.write_text("".join(f"{k}={v}\n" for k, v in running.environment().items()))
    print(json.dumps(running.info()), flush=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    running.stop()
    return 0


def _exec(parser: argparse.ArgumentParser, env_file: Path, argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        parser.error("exec needs a command: python -m emulator exec -- COMMAND [ARG ...]")
    if not env_file.is_file():
        parser.error(f"{env_file} not found: start the local cloud first (make emulator)")
    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    path = os.pathsep.join([str(TOOLS), os.environ.get("PATH", os.defpath)])  # kubectl finds `kubelogin` there
    try:  # the user's own command, as typed
        os.execvpe(command[0], command, os.environ | settings | {"PATH": path})  # noqa: S606
    except FileNotFoundError:
        parser.error(f"command not found: {command[0]}")
    return 127  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())
