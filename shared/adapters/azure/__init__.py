"""Adapters to Azure: credentials, ARM clients, Service Connector linkers, Key Vault."""
