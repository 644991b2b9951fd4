"""Huawei Cloud RDS API v1 (derived from OpenStack Trove), with IAM's Keystone v3 tokens.

``routes.build(container)`` returns the router: ``auth`` (tokens, projects, regions and the token
check), ``schemas`` (requests with Huawei's field names), ``presenters`` (domain -> Huawei shapes),
``errors`` (the one table from domain errors to ``RDS.NNNN`` codes, in English and Chinese) and
``wire`` (route classes that answer every failure in this dialect's error body).
"""
