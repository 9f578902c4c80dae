"""Vendor clients: pure protocol (sign, call, parse, error table), one
module per vendor, no database. Each module names itself (VENDOR, the
DISPLAY_NAME people are told), its code table (`describe`) and the codes of
calls that went as they should (SUCCESS_CODES); VENDORS holds them by name."""

from . import faceid, juhe, jumdata, tencent

VENDORS = {module.VENDOR: module for module in (jumdata, tencent, juhe, faceid)}


def vendor_words(vendor: str, response_summary) -> str:
    """What the vendor itself said about a call, as its record keeps it
    (for reviewers); "" for a vendor whose module reads none."""
    module = VENDORS.get(vendor)
    read = getattr(module, "vendor_words", None)
    return read(response_summary) if read is not None else ""


def describe(vendor: str, code):
    """The vendor's entry for `code` (its meaning for staff, its message for
    the person), or None for an unknown vendor."""
    module = VENDORS.get(vendor)
    return module.describe(code) if module is not None else None
