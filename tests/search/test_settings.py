"""Search settings fail early and name the variable."""

from __future__ import annotations

import pytest

from evently.core.settings import SettingsError, load_settings
from evently.search.settings import SearchSettings

BASE = {"DATABASE_URL": "postgresql://localhost/x", "INTERNAL_API_KEY": "k" * 16}


def test_defaults_select_the_postgres_backend():
    settings = load_settings(SearchSettings, BASE)

    assert (settings.search_backend, settings.opensearch_index) == ("postgres", "evently-events")
    assert settings.count_limit == 1000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SEARCH_BACKEND", "elastic"),
        ("OPENSEARCH_URL", "opensearch:9200"),
        ("OPENSEARCH_INDEX", "Events*"),
        ("OPENSEARCH_TIMEOUT_S", "0"),
        ("SEARCH_REINDEX_BATCH_SIZE", "0"),
        ("SEARCH_COUNT_LIMIT", "0"),
    ],
)
def test_a_bad_setting_is_named(name, value):
    with pytest.raises(SettingsError) as failure:
        load_settings(SearchSettings, {**BASE, name: value})

    assert [problem.split("=")[0] for problem in failure.value.problems] == [name]
