"""A real Kubernetes control plane (tools/localkube: etcd, kube-apiserver, controllers, simulated nodes) behind an
emulated AKS cluster, with AKS-style Entra ID authentication and Azure RBAC answered by the local cloud."""
