"""Start the local cloud in this process: TLS front door, identity endpoint and Key Vault proxy."""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from emulator import scenario as scenario_module
from emulator.cloud import Cloud
from emulator.clusters import KubeBackend, RealKube
from emulator.realkube.build import ensure_built
from emulator.server import start_server
from emulator.sidecar import start_sidecar
from emulator.tls import mint


@dataclass
class LocalCloud:
    cloud: Cloud
    arm_endpoint: str
    ca_bundle: Path
    identity_endpoint: str
    identity_header: str
    proxy: str
    app_client_id: str
    workdir: Path
    _servers: list = field(default_factory=list, repr=False)

    @property
    def tenant_id(self) -> str:
        return self.cloud.tenant_id

    @property
    def subscriptions(self) -> list[str]:
        return [s.id for s in self.cloud.arm.subscriptions.values()]

    def info(self) -> dict:
        """The ready line `python -m emulator serve` prints."""
        return {
            "arm_endpoint": self.arm_endpoint,
            "ca_bundle": str(self.ca_bundle),
            "identity_endpoint": self.identity_endpoint,
            "identity_header": self.identity_header,
            "tenant_id": self.tenant_id,
            "subscriptions": self.subscriptions,
            "proxy": self.proxy,
            "app_client_id": self.app_client_id,
            "principals": self.principals,
            **({"kubernetes": real} if (real := self.cloud.clusters.report()) else {}),
        }

    def environment(self) -> dict[str, str]:
        """The app settings that point the unchanged production code at this cloud."""
        return {
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
            "AZURE_CLIENT_ID": self.app_client_id,
            "AZURE_TENANT_ID": self.tenant_id,
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
            "SSL_CERT_FILE": str(self.ca_bundle),
            "HTTPS_PROXY": self.proxy,
            "NO_PROXY": "127.0.0.1,localhost",
            "SC_ARM_ENDPOINT": self.arm_endpoint,
            "SC_ARM_AUDIENCE": "https://management.azure.com",  # as on Azure: the audience is not the local address
            "SC_SUBSCRIPTIONS": ",".join(self.subscriptions),
            "SC_LRO_POLL_SECONDS": "0",
            # the Azure CLI keeps this cloud's profile (registered cloud, login) apart from the user's own
            "AZURE_CONFIG_DIR": str(self.workdir / "azure"),
            # `az login --identity --client-id "$LOCAL_CLOUD_CLIENT_ID_PLATFORM_ADMIN"` acts as that principal
            **{f"LOCAL_CLOUD_CLIENT_ID_{_env_name(name)}": client for name, client in self.principals.items()},
        }

    @property
    def principals(self) -> dict[str, str]:
        """Scenario principal name -> client id (the identity endpoint serves each by its client id)."""
        return {i.principal.name: i.principal.client_id for i in self.cloud.tokens.identities.values()}

    def stop(self) -> None:
        self.cloud.clusters.stop()  # real control planes first: their webhooks call the front door
        for server in self._servers:
            server.shutdown()
            server.server_close()


def start(source: Path | str | dict, workdir: Path | None = None, kube: str | None = None) -> LocalCloud:
    """The local cloud for a scenario; `kube` ("emulated" or "real") overrides its `kubernetes_backend`."""
    spec = scenario_module.load(source)
    if kube:
        spec = {**spec, "kubernetes_backend": kube}
    cloud, app_identity = scenario_module.build(spec)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="sc-local-cloud-"))
    tls = mint(workdir)
    cloud.site.ca_pem = tls.ca_bundle.read_text()
    front, arm_endpoint = start_server(cloud.handle, ssl_context=tls.server_context)
    cloud.site.arm_endpoint = arm_endpoint
    if cloud.clusters.backend == KubeBackend.REAL:
        real = RealKube(ensure_built(), workdir / "kube", tls.ca, tls.ca_bundle, arm_endpoint)
        try:
            cloud.clusters.start_real(real)
        except BaseException:
            cloud.clusters.stop()
            front.shutdown()
            front.server_close()
            raise
    identity_header = secrets.token_hex(16)
    sidecar, sidecar_url = start_sidecar(
        lambda query: cloud.tokens.managed_identity_token(query, app_identity), identity_header, front.server_port
    )
    return LocalCloud(
        cloud=cloud,
        arm_endpoint=arm_endpoint,
        ca_bundle=tls.ca_bundle,
        identity_endpoint=f"{sidecar_url}/msi/token",
        identity_header=identity_header,
        proxy=sidecar_url,
        app_client_id=app_identity.principal.client_id,
        workdir=workdir,
        _servers=[front, sidecar],
    )


def _env_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).upper()
