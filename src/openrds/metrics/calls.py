"""The one hook the API faces call so requests can be counted by face, action and error code.

A face tags the ASGI scope of the request it answered; the metrics middleware (``openrds.metrics``)
reads the tag when the response is done. The faces import nothing of the metrics layer, and a request
no face tagged (the console, an unknown path) is simply not an API call.

Labels must stay bounded: ``action`` is an action the face knows (anything else is ``"Unknown"``),
``code`` is an error code of the face's table or ``"OK"``; never ids.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

SCOPE_KEY = "openrds.api_call"
OK = "OK"
UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class ApiCall:
    face: str  # "tencent", "huawei"
    action: str  # the face's action name (Tencent) or route name (Huawei)
    code: str  # the error code answered, or "OK"


def tag_call(scope: MutableMapping[str, Any], face: str, action: str, code: str = OK) -> None:
    """Record what the request was, for the metrics middleware (the last call wins)."""
    scope[SCOPE_KEY] = ApiCall(face, action or UNKNOWN, code or OK)


def call_of(scope: MutableMapping[str, Any]) -> ApiCall | None:
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, ApiCall) else None
