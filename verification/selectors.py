"""Reads that need more than a plain filter."""

import re

from .crypto import search_hash
from .idcard import normalise_idcard

_IDCARD_SHAPE = re.compile(r"^\d{17}[\dX]$")


def session_search_by_idcard(queryset, term: str):
    """Sessions whose ID number is exactly `term` (an x may be lower case),
    found through the keyed hash: nothing is decrypted. Anything that is not
    a whole 18-character ID number finds nothing."""
    term = normalise_idcard(term)
    if not _IDCARD_SHAPE.match(term):
        return queryset.none()
    return queryset.filter(idcard_hash=search_hash(term))
