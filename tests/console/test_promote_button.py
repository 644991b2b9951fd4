"""The console's "Promote to primary" button: offered on a read-only instance's page only, behind a
confirmation, and a post of it starts the promote job (no job runner here: the job stays pending)."""

from __future__ import annotations

import re

from openrds.domain.states import JobKind, Lifecycle

from .test_pages import World, world  # noqa: F401 - the pages' fixture: a store with one tenant's estate


def test_promote_button_on_a_replica_page_starts_the_job(world: World) -> None:  # noqa: F811
    world.sign_in("alice")
    replica_page = world.client.get(f"/console/instances/{world.replica.code}").text
    form = re.search(r'<form method="post" action="/console/instances/[^/]+/promote" data-confirm="([^"]+)"',
                     replica_page)
    assert form is not None and "standalone primary" in form.group(1)
    assert 'data-testid="promote"' in replica_page
    assert 'data-testid="promote"' not in world.client.get(f"/console/instances/{world.primary.code}").text

    # A primary cannot be promoted: refused, nothing started.
    token = world.csrf()
    refused = world.client.post(f"/console/instances/{world.primary.code}/promote", data={"csrf": token})
    assert refused.status_code >= 400 and "a primary" in refused.text
    with world.container.store.read() as uow:
        assert uow.jobs.unfinished() == []

    answer = world.client.post(f"/console/instances/{world.replica.code}/promote", data={"csrf": token},
                               follow_redirects=False)
    assert answer.status_code == 303 and "/console/jobs?job=" in answer.headers["location"]
    with world.container.store.read() as uow:
        [job] = uow.jobs.unfinished()
        moved = uow.instances(None).find(world.replica.id)
    assert job.kind == JobKind.PROMOTE and list(job.instance_ids) == [world.replica.id]
    assert moved is not None and moved.lifecycle is Lifecycle.RESTARTING and moved.group_id is None
