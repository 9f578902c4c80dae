"""Reads that need more than a plain filter."""

from .crypto import search_hash
from .idcard import looks_like_idcard


def session_search_by_idcard(queryset, term: str):
    """Sessions whose ID number is exactly `term` (an x may be lower case),
    found through the keyed hash: nothing is decrypted. Anything that is not
    a whole 18-character ID number finds nothing. Who may search, and how
    often, is services.sessions_find_by_idcard's to decide."""
    if not looks_like_idcard(term):
        return queryset.none()
    return queryset.filter(idcard_hash=search_hash(term))
