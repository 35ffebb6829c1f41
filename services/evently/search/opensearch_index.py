"""The OpenSearch side of the contract: index template, documents and query DSL.

Pure functions (no I/O), so the mapping and the queries can be read in one place.
"""

from __future__ import annotations

import re
from typing import Any

from evently.search.models import (
    DEFAULT_COUNT_LIMIT,
    MARK_END,
    MARK_START,
    SearchDocument,
    SearchQuery,
    fold,
)

FACET_SIZE = 50
VISIBLE = {"term": {"visible": True}}
_FOLDED_TEXT = {"type": "text", "analyzer": "folded_english"}
_SUGGEST = {"type": "text", "analyzer": "autocomplete", "search_analyzer": "folded"}


def index_template(alias: str, replicas: int) -> dict[str, Any]:
    """The template every ``<alias>-*`` index is created from."""
    return {
        "index_patterns": [f"{alias}-*"],
        "priority": 100,
        "template": {
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": replicas,
                "analysis": {
                    "filter": {
                        "english_stop": {"type": "stop", "stopwords": "_english_"},
                        "english_stemmer": {"type": "stemmer", "language": "english"},
                        "autocomplete_grams": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20},
                    },
                    "normalizer": {
                        "folded_keyword": {
                            "type": "custom",
                            "filter": ["lowercase", "asciifolding"],
                        }
                    },
                    "analyzer": {
                        # Same idea as PostgreSQL's search.evently configuration.
                        "folded_english": {
                            "type": "custom",
                            "tokenizer": "standard",
                            "filter": [
                                "lowercase",
                                "asciifolding",
                                "english_stop",
                                "english_stemmer",
                            ],
                        },
                        "folded": {
                            "type": "custom",
                            "tokenizer": "standard",
                            "filter": ["lowercase", "asciifolding"],
                        },
                        # "Jazz" is indexed as j, ja, jaz, jazz: what was typed so far matches.
                        "autocomplete": {
                            "type": "custom",
                            "tokenizer": "standard",
                            "filter": ["lowercase", "asciifolding", "autocomplete_grams"],
                        },
                    },
                },
            },
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "event_id": {"type": "long"},
                    "visible": {"type": "boolean"},
                    "name": {
                        **_FOLDED_TEXT,
                        "fields": {"suggest": _SUGGEST, "raw": {"type": "keyword"}},
                    },
                    "description": _FOLDED_TEXT,
                    "venue_id": {"type": "long"},
                    "venue_name": {
                        **_FOLDED_TEXT,
                        "fields": {"suggest": _SUGGEST, "raw": {"type": "keyword"}},
                    },
                    "city": {
                        "type": "keyword",
                        "fields": {
                            "text": _FOLDED_TEXT,
                            "key": {"type": "keyword", "normalizer": "folded_keyword"},
                        },
                    },
                    "type": {"type": "keyword"},
                    "starts_at": {"type": "date"},
                    "ends_at": {"type": "date"},
                    "price": {"type": "scaled_float", "scaling_factor": 10000},
                    "price_text": {"type": "keyword", "index": False},
                    "currency": {"type": "keyword"},
                    "available": {"type": "boolean"},
                    "sold_out": {"type": "boolean"},
                    "seats_available": {"type": "integer"},
                    "event_version": {"type": "long"},
                    "inventory_version": {"type": "long"},
                },
            },
        },
    }


def document_body(doc: SearchDocument) -> dict[str, Any]:
    """The indexed form of a document; a hidden one is a tombstone holding its version.

    Tombstones (rather than deletes) keep the external version forever, so a late older
    write can never bring a cancelled event back, and a write never creates an index.
    """
    if not doc.searchable:
        return {
            "event_id": doc.event_id,
            "visible": False,
            "event_version": doc.event_version,
            "inventory_version": doc.inventory_version,
        }
    return {
        "event_id": doc.event_id,
        "visible": True,
        "name": doc.name,
        "description": doc.description,
        "venue_id": doc.venue_id,
        "venue_name": doc.venue_name,
        "city": doc.city,
        "type": doc.type,
        "starts_at": doc.starts_at.isoformat() if doc.starts_at else None,
        "ends_at": doc.ends_at.isoformat() if doc.ends_at else None,
        "price": float(doc.price) if doc.price is not None else None,
        "price_text": str(doc.price) if doc.price is not None else None,
        "currency": doc.currency,
        "available": doc.available,
        "sold_out": doc.sold_out,
        "seats_available": doc.seats_available,
        "event_version": doc.event_version,
        "inventory_version": doc.inventory_version,
    }


def bulk_actions(index: str, docs: list[SearchDocument]) -> list[dict[str, Any]]:
    """Bulk lines writing each document at its external version."""
    lines: list[dict[str, Any]] = []
    for doc in docs:
        meta = {
            "_index": index,
            "_id": str(doc.event_id),
            "version": doc.external_version,
            "version_type": "external",
        }
        lines += [{"index": meta}, document_body(doc)]
    return lines


TEXT_FIELDS = ["name^3", "venue_name^2", "city.text^2", "description"]
_OR_WORD = re.compile(r"\s+or\s+", re.IGNORECASE)


def _text_query(q: str, *, fuzzy: bool) -> dict[str, Any]:
    """Words as typed, all required (like websearch_to_tsquery: "quotes", -not, or);
    or, when that matched nothing, any word within AUTO fuzziness."""
    if fuzzy:
        return {"multi_match": {"query": q, "fields": TEXT_FIELDS, "fuzziness": "AUTO"}}
    return {
        "simple_query_string": {
            "query": _OR_WORD.sub(" | ", q),
            "fields": TEXT_FIELDS,
            "default_operator": "and",
            "flags": "AND|OR|NOT|PHRASE|WHITESPACE",
        }
    }


# Not ended yet: ends_at in the future, or no end and a start in the future.
NOT_ENDED: dict[str, Any] = {
    "bool": {
        "should": [
            {"range": {"ends_at": {"gte": "now"}}},
            {
                "bool": {
                    "must_not": {"exists": {"field": "ends_at"}},
                    "filter": {"range": {"starts_at": {"gte": "now"}}},
                }
            },
        ],
        "minimum_should_match": 1,
    }
}


def _common_filters(query: SearchQuery) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [VISIBLE]
    if query.upcoming_only:
        filters.append(NOT_ENDED)
    starts: dict[str, str] = {}
    if query.starts_from is not None:
        starts["gte"] = query.starts_from.isoformat()
    if query.starts_before is not None:
        starts["lt"] = query.starts_before.isoformat()
    if starts:
        filters.append({"range": {"starts_at": starts}})
    price: dict[str, str] = {}
    if query.min_price is not None:
        price["gte"] = str(query.min_price)
    if query.max_price is not None:
        price["lte"] = str(query.max_price)
    if price:
        filters.append({"range": {"price": price}})
    if query.available is not None:
        filters.append({"term": {"available": query.available}})
    return filters


_SORTS: dict[str, list[Any]] = {
    "relevance": ["_score", {"starts_at": "asc"}, {"event_id": "asc"}],
    "date": [{"starts_at": "asc"}, {"event_id": "asc"}],
    "price": [{"price": "asc"}, {"starts_at": "asc"}, {"event_id": "asc"}],
}


def _facet(field: str, other_filter: dict[str, Any] | None) -> dict[str, Any]:
    terms = {
        "terms": {
            "field": field,
            "size": FACET_SIZE,
            "order": [{"_count": "desc"}, {"_key": "asc"}],
        }
    }
    return {"filter": other_filter or {"match_all": {}}, "aggs": {"values": terms}}


def search_body(
    query: SearchQuery, *, fuzzy: bool = False, count_limit: int = DEFAULT_COUNT_LIMIT
) -> dict[str, Any]:
    """The search request: hits with highlights, the total (counted up to
    ``count_limit``), and both facets (exact: OpenSearch counts them in its index).

    ``type`` and ``city`` go in ``post_filter`` so each facet can honour every filter
    except its own; the hits honour all of them.
    """
    must = [_text_query(query.text, fuzzy=fuzzy)] if query.q else [{"match_all": {}}]
    type_filter = {"term": {"type": query.type}} if query.type else None
    city_filter = {"term": {"city.key": fold(query.city)}} if query.city else None
    post = [f for f in (type_filter, city_filter) if f is not None]
    body: dict[str, Any] = {
        "query": {"bool": {"must": must, "filter": _common_filters(query)}},
        "sort": _SORTS[query.effective_sort],
        "from": query.offset,
        "size": query.limit,
        "track_total_hits": count_limit,
        "aggs": {"type": _facet("type", city_filter), "city": _facet("city", type_filter)},
    }
    if post:
        body["post_filter"] = {"bool": {"filter": post}}
    if query.q:
        body["highlight"] = {
            "pre_tags": [MARK_START],
            "post_tags": [MARK_END],
            "fields": {
                "name": {"number_of_fragments": 0},
                "venue_name": {"number_of_fragments": 0},
                "city.text": {"number_of_fragments": 0},
                "description": {"fragment_size": 120, "number_of_fragments": 2},
            },
        }
    return body


def text_only_body(query: SearchQuery) -> dict[str, Any]:
    """Visible events matching the words as typed, ignoring every filter (for counting)."""
    return {
        "query": {"bool": {"must": [_text_query(query.text, fuzzy=False)], "filter": [VISIBLE]}}
    }


def suggest_body(field: str, collapse: str, prefix: str, limit: int) -> dict[str, Any]:
    """Distinct values of ``collapse`` whose ``field`` starts with (or nearly) ``prefix``."""
    return {
        "query": {
            "bool": {
                "should": [
                    {"match": {f"{field}.suggest": {"query": prefix, "operator": "and"}}},
                    {"match": {field: {"query": prefix, "fuzziness": "AUTO", "operator": "and"}}},
                ],
                "minimum_should_match": 1,
                "filter": [VISIBLE],
            }
        },
        "collapse": {"field": collapse},
        "sort": ["_score", {"starts_at": "asc"}, {"event_id": "asc"}],
        "size": limit,
        "_source": ["name", "venue_name", "city"],
    }
