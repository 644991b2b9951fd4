"""The spec-change and maintenance-window part of the Tencent face (ModifyDBInstanceSpec and its kin)."""
