"""A throwaway CA (trustme) and the server certificate every emulated endpoint presents."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

# Names the server certificate covers: loopback, plus the Key Vault host names that the
# CONNECT proxy tunnels to the emulated vaults (so vault URLs keep their real form).
SERVER_NAMES = ("127.0.0.1", "localhost", "*.vault.azure.net")


@dataclass
class Tls:
    ca_bundle: Path
    server_context: ssl.SSLContext
    ca: trustme.CA  # also signs each real control plane's serving certificate (emulator/realkube)


def mint(directory: Path) -> Tls:
    """Mint a CA and a server certificate; write the CA PEM where clients can trust it."""
    ca = trustme.CA(organization_name="sc-autopilot local cloud")
    cert = ca.issue_cert(*SERVER_NAMES)
    directory.mkdir(parents=True, exist_ok=True)
    ca_bundle = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return Tls(ca_bundle=ca_bundle, server_context=context, ca=ca)
