"""The loops that make the world match the store, each on its own background thread: the supervisor
(dead servers restarted, orphan slots dropped), the slot watch (replicas whose slot is lost), the group
endpoints (HAProxy per read-only group), the storage watch (instances past their storage made
read-only) and the billing round (metering, renewal, expiry). Jobs change the world once, on request;
these keep it matching, forever."""
