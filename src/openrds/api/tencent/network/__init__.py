"""Security groups and network access actions of the Tencent face (:mod:`openrds.services.network`)."""
