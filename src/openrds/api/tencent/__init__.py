"""The Tencent Cloud API 3.0 dialect (service ``postgres``, version ``2017-03-12``).

Wire layer:

* :mod:`.auth` - TC3-HMAC-SHA256 verification and the :class:`~.auth.Caller` it yields;
* :mod:`.protocol` - the ``POST /`` router, actions, envelope, order of checks, rate limit;
* :mod:`.errors` - error codes, bilingual messages, the one domain-error table;
* :mod:`.schemas` - request models; :mod:`.fields` - response shapes (TypedDicts) for presenters.

The actions themselves (parse -> service -> present) are plugged in by :mod:`.routes`.
"""
