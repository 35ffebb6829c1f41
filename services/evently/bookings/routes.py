"""HTTP routes of the bookings service: thin handlers over the domain functions."""

from __future__ import annotations

from evently.core.api import Api

api = Api("bookings")
