"""The backup area of the Tencent face: base and log backups, backup plans, the recovery window,
download links and clones (``CloneDBInstance``): schemas, fields and handlers."""
