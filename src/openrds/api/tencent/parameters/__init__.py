"""The parameter part of the Tencent face: an instance's parameters, their change events, templates."""
