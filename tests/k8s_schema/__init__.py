"""Offline validation of Kubernetes manifests against CNPG 1.30.0's CRDs, CEL rules and webhook (validate.py)."""
