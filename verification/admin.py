"""First cut of the back office: everything read-only."""

from django.contrib import admin

from .models import ApiClient, Submission, VendorCall, VerificationSession


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VendorCallInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = VendorCall
    extra = 0
    fields = [
        "created_at", "vendor", "endpoint", "http_status", "vendor_code", "billed", "latency_ms", "request_id",
        "error", "request_summary", "response_summary",
    ]
    readonly_fields = fields


class SubmissionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Submission
    extra = 0
    fields = ["created_at", "attempt", "kind", "capture", "state", "challenge_kind", "challenge_value", "facts",
              "content_sha256", "sent_at"]
    readonly_fields = fields


@admin.register(VerificationSession)
class VerificationSessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at", "method", "status", "review_status", "external_ref", "masked_name", "masked_idcard",
        "attempts_used", "vendor_code", "needs_review", "client",
    ]
    list_filter = ["status", "method", "review_status", "needs_review", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=external_ref", "=vendor_task_no", "=vendor_order_no"]
    date_hierarchy = "created_at"
    inlines = [SubmissionInline, VendorCallInline]
    fieldsets = [
        (None, {"fields": ["id", "client", "method", "external_ref", "status", "review_status", "locale"]}),
        ("Identity", {"fields": ["masked_name", "masked_idcard"]}),
        ("Consent", {"fields": ["consent_at", "consent_ip", "consent_user_agent", "consent_version"]}),
        ("Attempts", {"fields": ["attempts_used", "max_attempts", "expires_at"]}),
        ("Vendor", {"fields": ["vendor_task_no", "vendor_order_no", "vendor_token_expires_at"]}),
        ("Outcome", {"fields": ["passed", "reason", "outcome_vendor", "vendor_code", "scores", "retryable",
                                "needs_review", "completed_at"]}),
        ("Challenge", {"fields": ["challenge_kind", "challenge_value"]}),
        ("Options", {"fields": ["options", "return_url", "created_at", "updated_at"]}),
    ]
    readonly_fields = [f for fs in fieldsets for f in fs[1]["fields"]]

    @admin.display(description="name")
    def masked_name(self, obj):
        return obj.masked_name

    @admin.display(description="ID number")
    def masked_idcard(self, obj):
        return obj.masked_idcard


@admin.register(ApiClient)
class ApiClientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "key_hint", "is_active", "webhook_url", "created_at"]
    readonly_fields = ["name", "key_hint", "allowed_origins", "webhook_url", "is_active", "created_at"]
    exclude = ["key_hash", "webhook_secret"]


@admin.register(VendorCall)
class VendorCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "vendor", "endpoint", "http_status", "vendor_code", "billed", "latency_ms", "session"]
    list_filter = ["vendor", "endpoint", "billed", "vendor_code"]
    search_fields = ["=request_id"]
    readonly_fields = [f.name for f in VendorCall._meta.fields]
