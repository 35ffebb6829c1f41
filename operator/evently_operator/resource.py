"""Names of the Event custom resource and how the operator marks what it manages."""

from __future__ import annotations

GROUP = "evently.io"
VERSION = "v1"
PLURAL = "events"
KIND = "Event"

# Removed by the delete handler once the event is cancelled in the database.
FINALIZER = "evently.io/cancel-event"
# kopf's own bookkeeping (handler progress, last handled spec) lives in annotations
# under this prefix, so the status holds only what the CRD declares.
ANNOTATION_PREFIX = "operator.evently.io"


def managed_by(namespace: str, name: str) -> str:
    """The events row's ``managed_by`` for the resource ``namespace/name``."""
    return f"kubernetes:{namespace}/{name}"
