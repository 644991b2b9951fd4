"""Servers on this host: `LocalDriver` implements `openrds.engine.driver.Driver`."""

from openrds.engine.local.driver import LocalDriver

__all__ = ["LocalDriver"]
