"""Fixtures for the deploy tests: the real kube-apiserver from tests/support/kube.py."""

from tests.support.kube import kube_cluster  # noqa: F401
