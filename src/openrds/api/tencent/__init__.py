"""The Tencent Cloud API 3.0 dialect (service ``postgres``, version ``2017-03-12``).

* :mod:`.auth` - TC3-HMAC-SHA256 verification and the :class:`~.auth.Caller` it yields;
* :mod:`.protocol` - the ``POST /`` router, actions, envelope, ordering of checks, rate limit;
* :mod:`.errors` - error codes, bilingual messages, the domain-error table;
* :mod:`.schemas` - request models; :mod:`.fields` - response shapes for presenters.
"""
