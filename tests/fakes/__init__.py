"""Test doubles, each documented where it lives, and none of PostgreSQL or of an official client:

- `driver.FakeDriver`: the engine contract in memory, for tests that are not about PostgreSQL;
- `kube`: the slice of the Kubernetes API the `kubernetes` driver calls, in process, with a scripted
  CloudNativePG operator (logic: ordering, deadlines, terminal phases, 410 Gone, adopt);
- `kube_server`: a local HTTP server speaking the Kubernetes REST API, which the real `kubernetes`
  client talks to (wire: the whole service on `OPENRDS_DRIVER=kubernetes`).
"""
