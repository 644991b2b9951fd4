"""The `kubernetes` engine driver: instances as CloudNativePG Clusters (`driver.KubernetesDriver`)."""

from openrds.engine.kubernetes.driver import KubernetesDriver
from openrds.engine.kubernetes.manifests import KubernetesConfig

__all__ = ["KubernetesConfig", "KubernetesDriver"]
