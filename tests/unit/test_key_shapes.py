"""listConfigurations is read once per connection shape and shared app-wide: the shape must tell apart connections
whose keys differ though their target type and auth type are the same (found by the target walk, issue 25)."""

from __future__ import annotations

from shared.core.ids import ResourceRef
from shared.core.model import Connection, TargetInfo, TargetKind
from shared.service.estate import Estate
from shared.service.inventory import _shape

P = "/subscriptions/c0ffee00-0000-4000-8000-00000000d370/resourceGroups/rg/providers"
OPENAI, AI = f"{P}/Microsoft.CognitiveServices/accounts/oai", f"{P}/Microsoft.CognitiveServices/accounts/ais"
VAULT = f"{P}/Microsoft.KeyVault/vaults/kv"
STORAGE = f"{P}/Microsoft.Storage/storageAccounts/st"
ESTATE = Estate(
    clusters=(),
    targets=(
        TargetInfo(ResourceRef(OPENAI), TargetKind.OPENAI, {}),
        TargetInfo(ResourceRef(AI), TargetKind.AI_SERVICES, {}),
        TargetInfo(ResourceRef(VAULT), TargetKind.KEYVAULT, {}),
        TargetInfo(ResourceRef(STORAGE), TargetKind.STORAGE_BLOB, {}),
        TargetInfo(ResourceRef(f"{STORAGE}2"), TargetKind.STORAGE_BLOB, {}),
    ),
)


def _linker(target: str, auth: str = "userAssignedIdentity", csi: bool = False) -> Connection:
    return Connection("scap_x", target, auth, "shop", "python", "Succeeded", csi=csi)


def test_accounts_of_different_kinds_have_different_shapes():
    assert _shape(_linker(OPENAI), ESTATE) != _shape(_linker(AI), ESTATE)


def test_a_vault_for_the_csi_driver_and_one_for_workload_identity_have_different_shapes():
    assert _shape(_linker(VAULT, csi=True), ESTATE) != _shape(_linker(VAULT), ESTATE)


def test_storage_services_differ_by_target_type_and_accounts_share_a_shape():
    blob, queue = f"{STORAGE}/blobServices/default", f"{STORAGE}/queueServices/default"
    assert _shape(_linker(blob), ESTATE) != _shape(_linker(queue), ESTATE)
    assert _shape(_linker(blob), ESTATE) == _shape(_linker(f"{STORAGE}2/blobServices/default"), ESTATE)
