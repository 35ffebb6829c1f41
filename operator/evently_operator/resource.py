"""Names of the Event custom resource and how the operator marks what it manages."""

from __future__ import annotations

GROUP = "evently.io"
VERSION = "v1"
PLURAL = "events"
KIND = "Event"

# Removed by the delete handler once the event is cancelled in the database.
FINALIZER = "evently.io/cancel-event"
# kopf's own bookkeeping (handler progress while retried, the last handled spec) lives
# in the status under this field, declared in the CRD (``status.kopf``), so it is written
# in the same PATCH as the status itself.
KOPF_STATUS = "status.kopf"
# Where versions before that kept it (annotations): still read, never written.
ANNOTATION_PREFIX = "operator.evently.io"


def managed_by(namespace: str, name: str) -> str:
    """The events row's ``managed_by`` for the resource ``namespace/name``."""
    return f"kubernetes:{namespace}/{name}"
