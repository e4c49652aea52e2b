"""ARM resource ids: the one parser, and the resource types sc-autopilot knows."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEGMENT = r"(?!\.\.?(?:/|\Z))[^/\x00-\x1f]+"
_ID = re.compile(  # applied with fullmatch; after the provider namespace come type/name pairs
    rf"/subscriptions/(?P<sub>{_SEGMENT})/resourceGroups/(?P<rg>{_SEGMENT})/providers/(?P<ns>{_SEGMENT})"
    rf"/(?P<rest>{_SEGMENT}/{_SEGMENT}(?:/{_SEGMENT}/{_SEGMENT})*)",
    re.IGNORECASE,
)

CLUSTER_TYPE = "microsoft.containerservice/managedclusters"
IDENTITY_TYPE = "microsoft.managedidentity/userassignedidentities"


@dataclass(frozen=True, eq=False)
class ResourceRef:
    """An ARM resource id. Equality and hashing ignore case, as ARM does; `id` keeps the original spelling."""

    id: str

    @classmethod
    def parse(cls, resource_id: str) -> ResourceRef:
        if not isinstance(resource_id, str) or _ID.fullmatch(resource_id.rstrip("/")) is None:
            raise ValueError(f"not an ARM resource id: {str(resource_id)[:200]!r}")
        return cls(resource_id.rstrip("/"))

    def _parts(self) -> re.Match[str]:
        match = _ID.fullmatch(self.id)
        assert match is not None
        return match

    @property
    def subscription_id(self) -> str:
        return self._parts().group("sub")

    @property
    def resource_group(self) -> str:
        return self._parts().group("rg")

    @property
    def provider(self) -> str:
        return self._parts().group("ns")

    @property
    def type(self) -> str:
        """Lower-case full type, e.g. `microsoft.sql/servers/databases`."""
        segments = self._parts().group("rest").split("/")
        return "/".join([self.provider, *segments[0::2]]).lower()

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResourceRef) and self.id.lower() == other.id.lower()

    def __hash__(self) -> int:
        return hash(self.id.lower())

    def __lt__(self, other: ResourceRef) -> bool:
        return self.id.lower() < other.id.lower()

    def __str__(self) -> str:
        return self.id


def type_of(resource_id: str) -> str:
    """The lower-case resource type of an id, or "" when it is not one (a linker someone else edited)."""
    try:
        return ResourceRef.parse(resource_id).type
    except ValueError:
        return ""
