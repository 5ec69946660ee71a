"""Copies of JSON documents (what the store holds and requests carry).

``copy.deepcopy`` handles any object graph, with a memo and a dispatch per value;
a document is only dicts, lists and immutable scalars, so a plain recursion does
the same copy in a fraction of the time. The server copies documents on every
write (defaulting, validation, the apply merge).
"""

from __future__ import annotations

from typing import Any


def document_copy(value: Any) -> Any:
    """A deep copy of ``value``: new dicts and lists all the way down; anything else
    (str, int, float, bool, None, and what YAML parses into, all immutable) shared."""
    if isinstance(value, dict):
        return {key: document_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [document_copy(item) for item in value]
    return value
