"""The records staff read but never change: the audit log, vendor calls,
and webhook messages with their attempts (which may be sent once more)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import AuditEntry, VendorCall, WebhookAttempt, WebhookMessage
from ..services import webhooks
from .common import ReadOnlyAdminMixin, ReadOnlyInline


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Append-only for everyone, superusers included: no add, change or
    delete, and no bulk actions."""

    list_display = ["created_at", "actor_name", "action", "session_link", "detail"]
    list_filter = ["action", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=actor_name", "=session_ref"]
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in AuditEntry._meta.fields]

    @admin.display(description=_("session"))
    def session_link(self, obj):
        if not obj.session_ref:
            return "—"
        url = reverse("admin:verification_verificationsession_change", args=[obj.session_ref])
        return format_html('<a href="{}">{}</a>', url, str(obj.session_ref)[:8])


@admin.register(VendorCall)
class VendorCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "vendor", "endpoint", "http_status", "vendor_code", "billed", "latency_ms", "session"]
    list_filter = ["vendor", "endpoint", "billed", "vendor_code"]
    search_fields = ["=request_id"]
    readonly_fields = [f.name for f in VendorCall._meta.fields]


# --- webhooks to integrators ---------------------------------------------------------


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["attempt", "created_at", "http_status", "error", "latency_ms"]
    readonly_fields = fields


@admin.register(WebhookMessage)
class WebhookMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "event_type", "client", "session", "sequence", "state", "attempts",
                    "next_attempt_at", "delivered_at"]
    list_filter = ["state", "event_type", "client"]
    search_fields = ["=msg_id"]
    readonly_fields = ["msg_id", "client", "session", "event_type", "sequence", "state", "attempts",
                       "next_attempt_at", "created_at", "delivered_at", "payload"]
    fields = readonly_fields
    inlines = [WebhookAttemptInline]
    actions = ["resend_now"]

    @admin.action(description=_("Resend now (same webhook-id)"), permissions=["resend"])
    def resend_now(self, request, queryset):
        for message in queryset:
            webhooks.webhook_resend(message=message)
        messages.success(request, _("%(count)d webhook message(s) queued for resending.") % {"count": len(queryset)})

    def has_resend_permission(self, request):
        return request.user.has_perm("verification.change_webhookmessage")
