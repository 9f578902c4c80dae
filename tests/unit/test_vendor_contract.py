"""What every vendor client promises: each code its document lists has the
vendor's own meaning (for staff) and a message in Simplified Chinese and
English (for the person); an unlisted code is never guessed."""

import pytest
from django.utils import translation

from verification.vendors import juhe, jumdata, tencent

DOCUMENTED = {
    jumdata: [200, 201, 202, 203, 301, 400, 404, 500, 601, 602, 604, 606, 607, 609, 610, 999],
    tencent: [0, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 21, 23, 24, 107, 108, 213,
              -4006, -4007, -4009, -4010, -4011, -4012, -4015, -4016, -4017, -4018,
              -5001, -5002, -5005, -5007, -5008, -5009, -5010, -5011, -5012, -5013, -5014, -5015, -5016,
              -5801, -5802, -5803, -5804, -5805, -5806, -5807, -5809, -5817],
    juhe: [0, 267509, 267549, 280201, 280202, 280206, 280207, 280208, 280210, 280219, 280220, 280223, 280224,
           280225, 280229, 280231, 280236, 280237, 280240, 280241, 280243, 280244, 2546134, 2546135,
           10001, 10002, 10003, 10004, 10005, 10007, 10008, 10009, 10011, 10012, 10013, 10014, 10020, 10021],
}
CASES = [(vendor, code) for vendor, codes in DOCUMENTED.items() for code in codes]


@pytest.mark.parametrize("vendor, code", CASES, ids=[f"{v.VENDOR}-{c}" for v, c in CASES])
def test_every_documented_code_has_a_meaning_and_a_message_in_both_languages(vendor, code):
    known = vendor.describe(code)
    assert known is not vendor.UNKNOWN_CODE and known.meaning
    with translation.override("en"):
        english = str(known.message)
    with translation.override("zh-hans"):
        chinese = str(known.message)
    assert english != chinese and any("\u4e00" <= c <= "\u9fff" for c in chinese)


@pytest.mark.parametrize("vendor", list(DOCUMENTED), ids=lambda v: v.VENDOR)
@pytest.mark.parametrize("code", [123456789, "abc", None, 1.5e9])
def test_an_unlisted_code_is_unknown(vendor, code):
    assert vendor.describe(code) is vendor.UNKNOWN_CODE


@pytest.mark.parametrize("vendor", list(DOCUMENTED), ids=lambda v: v.VENDOR)
def test_the_table_holds_nothing_the_document_does_not_list(vendor):
    assert set(vendor.CODES) <= set(DOCUMENTED[vendor])
