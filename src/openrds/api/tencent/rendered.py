"""Instances rendered once as the listings show them, and reused while they are the same.

Presenting an instance (:func:`.presenters.instance`) and writing it as JSON costs ~25 us; a 100-row
page would spend 2.5 ms on it on every computed answer. :class:`RenderedInstances` keeps the JSON text
of each instance shown, with what it was rendered from: the ``Instance`` value itself (the listing
keeps one value per committed state, and a new commit of that instance is a new value), the caller's
AppId and Uin, the instance's replica count and its master's code. Any of them different, it is
rendered again - through the presenters, so what a listing shows is always what they say.

Bounded: at most ``max_rows`` instances, least recently shown go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from openrds.api.tencent import presenters as present
from openrds.api.tencent.protocol import render_value
from openrds.domain.catalogue import Catalogue
from openrds.domain.model import Instance

#: ~1.1 KB each: 22 MB at the bound.
DEFAULT_MAX_ROWS = 20_000


class RenderedInstances:
    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self._max_rows = max_rows
        self._rows: OrderedDict[str, tuple[Instance, tuple[object, ...], bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def instance(self, i: Instance, catalogue: Catalogue, *, app_id: int, uin: str, replica_count: int = 0,
                 master_code: str = "") -> bytes:
        """``present.instance(i, catalogue, ...)`` as JSON text (:func:`.protocol.render_value`)."""
        # The catalogue by identity: a new one (reloaded settings) renders everything again.
        context = (id(catalogue), app_id, uin, replica_count, master_code)
        with self._lock:
            found = self._rows.get(i.id)
            if found is not None and found[0] is i and found[1] == context:
                self._rows.move_to_end(i.id)
                return found[2]
        text = render_value(present.instance(i, catalogue, app_id=app_id, uin=uin, replica_count=replica_count,
                                             master_code=master_code))
        with self._lock:
            self._rows[i.id] = (i, context, text)
            self._rows.move_to_end(i.id)
            while len(self._rows) > self._max_rows:
                self._rows.popitem(last=False)
        return text
