"""The local cloud: an ARM, Key Vault, managed-identity and AKS (Kubernetes API) emulator.

It is a stand-in for Azure, not part of the app: nothing here imports the product, and the
product talks to it only through the real SDKs over HTTPS.
"""
