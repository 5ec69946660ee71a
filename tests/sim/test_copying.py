"""Document copies: equal to the original, sharing no dict or list with it."""

from __future__ import annotations

import datetime

from kubesim.copying import document_copy


def containers(value, out=None):
    out = [] if out is None else out
    if isinstance(value, (dict, list)):
        out.append(value)
        for item in (value.values() if isinstance(value, dict) else value):
            containers(item, out)
    return out


def test_a_copy_is_equal_and_shares_no_dict_or_list():
    doc = {"metadata": {"name": "a", "labels": {"x": "1"}, "managedFields": [{"fieldsV1": {"f:spec": {}}}]},
           "spec": {"ports": [{"port": 80, "tls": None}, [1, [2.5, True]]], "since": datetime.date(2026, 1, 1)}}
    copied = document_copy(doc)
    assert copied == doc
    assert not {id(c) for c in containers(copied)} & {id(c) for c in containers(doc)}
    copied["spec"]["ports"][0]["port"] = 81
    copied["metadata"]["labels"]["y"] = "2"
    assert doc["spec"]["ports"][0]["port"] == 80 and doc["metadata"]["labels"] == {"x": "1"}

