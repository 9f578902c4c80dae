"""A recorder for vendor clients in tests without a database: it keeps
each call's record, as services keep a VendorCall row."""

from verification.vendors.transport import VendorCallRecord


class CallRecords(list):
    """Pass as a client's `recorder`; `get` and `filter` read like the ORM's."""

    def __call__(self, record: VendorCallRecord) -> None:
        self.append(record)

    def filter(self, **match) -> list[VendorCallRecord]:
        return [record for record in self if all(getattr(record, k) == v for k, v in match.items())]

    def get(self, **match) -> VendorCallRecord:
        found = self.filter(**match)
        assert len(found) == 1, f"{len(found)} calls match {match}: {self}"
        return found[0]
