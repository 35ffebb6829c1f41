"""HTTP routes of the analytics service: thin handlers over the domain functions."""

from __future__ import annotations

from evently.core.api import Api

api = Api("analytics")
