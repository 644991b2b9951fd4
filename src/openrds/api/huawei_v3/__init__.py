"""Huawei Cloud RDS API v3, as the official SDK ``huaweicloudsdkrds`` speaks it: AK/SK signing
(SDK-HMAC-SHA256) or IAM tokens, over the same tenants, projects and instances as the v1 face.

``routes.build(container)`` returns the router: ``signing`` (the signature, as the SDK computes it),
``schemas`` (requests with v3's field names), ``presenters`` (domain -> v3 shapes, sharing the v1
face's statuses and job answer), ``fields`` (those shapes as TypedDicts) and ``errors`` (the one table
from domain errors to Huawei's documented ``DBS.NNNNNN`` codes, in English and Chinese).
"""
