"""Vendor-call summaries stored before the masks changed are masked again."""

import importlib

import pytest
from django.apps import apps

from verification.models import VendorCall


def error(kind, **kwargs):
    return kind("x", vendor="v", endpoint="e", **kwargs)


@pytest.mark.django_db
def test_summaries_stored_with_the_old_masks_are_masked_again():
    old = VendorCall.objects.create(
        vendor="tencent", endpoint="idcardcompare",
        request_summary={"appid": "app", "idcard_number": "110105********002X", "idcard_name": "张*"},
        response_summary={"code": 0, "data": {"idcard_name": "李*", "similarity": 92}},
    )
    untouched = VendorCall.objects.create(vendor="juhe", endpoint="verify", request_summary={"key": "***"})

    migration = importlib.import_module("verification.migrations.0016_remask_vendor_summaries")
    migration.remask(apps, schema_editor=None)

    old.refresh_from_db()
    assert old.request_summary == {"appid": "app", "idcard_number": "**************002X", "idcard_name": "张**"}
    assert old.response_summary == {"code": 0, "data": {"idcard_name": "李**", "similarity": 92}}
    assert VendorCall.objects.get(pk=untouched.pk).request_summary == {"key": "***"}
