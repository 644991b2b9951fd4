"""The log part of the Tencent face: slow queries (list and analysis) and the error log."""
