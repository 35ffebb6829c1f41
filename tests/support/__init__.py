"""Test support: real components started for the suite (PostgreSQL, servers, clients)."""
