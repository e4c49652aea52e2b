"""Adapters to the Kubernetes API of AKS clusters: client per cluster, workload patching, object scans."""
