"""kubelogin for the local cloud: a stand-in for Azure/kubelogin, the kubectl exec plugin of Entra-integrated AKS.

The real kubelogin is a Go binary from GitHub releases, on none of the registries this project installs from (PyPI,
npm, Debian). This stand-in does the two things `az aks get-credentials` + kubectl need, the way kubelogin does them:

- `kubelogin convert-kubeconfig -l azurecli [--kubeconfig FILE]` (what `az aks get-credentials` runs) rewrites each
  kubelogin exec user to `get-token --login azurecli --server-id <id>`;
- `kubelogin get-token --login azurecli --server-id <id>` asks the Azure CLI for a token for the server id
  (`az account get-access-token --resource <id>`) and prints it as an ExecCredential for kubectl.

Run it as `tools/kubelogin` (a shell wrapper that picks a Python with PyYAML); `python -m emulator exec` puts
`tools/` on PATH, so the kubeconfig's `command: kubelogin` finds it. `az` is taken from PATH, else from this
repository's `.venv-az` (make .venv-az/.installed). Other login modes (devicecode, msi, ...) are refused.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

EXEC_API = "client.authentication.k8s.io/v1beta1"
REPO_AZ = Path(__file__).resolve().parent.parent / ".venv-az" / "bin" / "az"


def convert(kubeconfig: Path, login: str) -> None:
    if login != "azurecli":
        sys.exit(f"this kubelogin stand-in converts to azurecli only, not {login!r}")
    config = yaml.safe_load(kubeconfig.read_text())
    for user in config.get("users") or []:
        plugin = (user.get("user") or {}).get("exec") or {}
        if "kubelogin" not in plugin.get("command", ""):
            continue
        args = plugin.get("args") or []
        server_id = args[args.index("--server-id") + 1]
        plugin["args"] = ["get-token", "--login", "azurecli", "--server-id", server_id]
        plugin.pop("env", None)
    kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))


def azure_cli() -> str:
    found = shutil.which("az") or (str(REPO_AZ) if REPO_AZ.exists() else None)
    if not found:
        sys.exit("kubelogin --login azurecli needs the Azure CLI: put az on PATH (or run make .venv-az/.installed)")
    return found


def get_token(server_id: str, login: str) -> None:
    if login != "azurecli":
        sys.exit(f"this kubelogin stand-in supports --login azurecli only, not {login!r}: run kubelogin "
                 "convert-kubeconfig -l azurecli on the kubeconfig first")  # fmt: skip
    answer = subprocess.run(  # noqa: S603 - the Azure CLI, with fixed arguments and the caller's server id
        [azure_cli(), "account", "get-access-token", "--resource", server_id, "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        sys.exit(answer.stderr)
    token = json.loads(answer.stdout)
    credential = {
        "kind": "ExecCredential",
        "apiVersion": EXEC_API,
        "spec": {"interactive": False},
        "status": {"expirationTimestamp": _rfc3339(token["expires_on"]), "token": token["accessToken"]},
    }
    print(json.dumps(credential))


def _rfc3339(expires_on: int) -> str:
    return datetime.datetime.fromtimestamp(int(expires_on), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kubelogin", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    converter = commands.add_parser("convert-kubeconfig", help="rewrite kubelogin users to --login azurecli")
    converter.add_argument("-l", "--login", required=True)
    converter.add_argument("--kubeconfig")
    getter = commands.add_parser("get-token", help="print an ExecCredential with a token from the Azure CLI")
    getter.add_argument("-l", "--login", default="devicecode")
    getter.add_argument("--server-id", required=True)
    args, _ = parser.parse_known_args(argv)
    if args.command == "convert-kubeconfig":
        default = Path.home() / ".kube" / "config"
        path = args.kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or default
        convert(Path(path), args.login)
    else:
        get_token(args.server_id, args.login)


if __name__ == "__main__":
    main()
