"""What the back office's model admins share: nothing a vendor or a person
sent can be edited, added or deleted here."""

from datetime import timedelta

from django.contrib import admin
from django.utils.translation import ngettext


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def age_text(delta: timedelta) -> str:
    """How long, as a reviewer reads it: minutes, then hours, then days."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return ngettext("%(n)d min", "%(n)d min", minutes) % {"n": minutes}
    hours = minutes // 60
    if hours < 48:
        return ngettext("%(n)d h", "%(n)d h", hours) % {"n": hours}
    return ngettext("%(n)d day", "%(n)d days", hours // 24) % {"n": hours // 24}
