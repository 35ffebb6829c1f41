"""Types for query parameters that are read the same way by every service."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator

_ISO_8601 = re.compile(
    r"^\d{4}-\d{2}-\d{2}"  # a date
    r"([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}(:?\d{2})?)?)?$"  # an optional time
)


def iso_8601_only(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a date: ``0.5`` or ``1700000000``
    (Unix seconds) in a parameter documented as an ISO 8601 date or date-time."""
    if isinstance(value, str) and not _ISO_8601.match(value):
        raise ValueError("expected an ISO 8601 date or date-time, e.g. 2030-05-01T20:00:00Z")
    return value


IsoOnly = BeforeValidator(iso_8601_only)
"""Use as ``Annotated[AwareDatetime | None, IsoOnly]``."""
