"""The emulated Kubernetes API of AKS clusters: an object store per cluster and its API server."""

from emulator.kube.api import KubeApi
from emulator.kube.store import ObjectStore

__all__ = ["KubeApi", "ObjectStore"]
