"""Integration clients, their keys (first characters only), and the
supervisors' pages that rotate and revoke them."""

import logging

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import ApiClient, ApiKey
from ..services import api_keys
from ..services.method_order import method_order_problems
from .common import ReadOnlyAdminMixin, ReadOnlyInline

logger = logging.getLogger(__name__)


class ApiKeyInline(ReadOnlyInline):
    """A client's keys: hints, modes and lives, never a key or its hash."""

    model = ApiKey
    fields = ["hint", "mode", "created_at", "expires_at", "revoked_at", "state"]
    readonly_fields = fields

    @admin.display(description=_("state"))
    def state(self, obj):
        now = timezone.now()
        if obj.revoked_at is not None:
            return _("revoked")
        if obj.expires_at is not None:
            return _("in its grace period") if obj.is_usable(now) else _("expired")
        if obj.mode != ApiKey.current_mode():
            return _("refused in this mode")
        return _("current")


class RotateKeyForm(forms.Form):
    grace_hours = forms.IntegerField(
        label=_("Old keys keep working for (hours)"), min_value=0, max_value=api_keys.MAX_GRACE_HOURS,
        initial=api_keys.DEFAULT_GRACE_HOURS,
    )


class MethodOrderForm(forms.Form):
    methods = forms.CharField(
        label=_("Method order for auto"), required=False,
        help_text=_('Method names, comma-separated, in the order "method": "auto" tries them (empty: none; '
                    'requests must then send their own).'),
    )

    def clean_methods(self):
        names = [name.strip() for name in self.cleaned_data["methods"].split(",") if name.strip()]
        if not names:
            return []
        order, problems = method_order_problems(names)
        if problems:
            raise forms.ValidationError(problems["methods"])
        return order


@admin.register(ApiClient)
class ApiClientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only, but for the keys and what the person is shown:
    supervisors (manage_api_keys) rotate the keys, shown once, or revoke
    them all after a confirmation, and edit the company's name and links."""

    list_display = ["name", "shown_name", "usable_keys", "is_active", "webhook_url", "created_at"]
    SHOWN_TO_PEOPLE = ["display_name", "logo_url", "privacy_url", "support_url"]
    fields = ["name", *SHOWN_TO_PEOPLE, "allowed_origins", "webhook_url", "methods", "is_active", "created_at"]
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("verification.manage_api_keys")

    def get_readonly_fields(self, request, obj=None):
        if self.has_change_permission(request, obj):
            return [name for name in self.fields if name not in self.SHOWN_TO_PEOPLE]
        return self.fields

    @admin.display(description=_("shown to people as"))
    def shown_name(self, obj):
        return obj.shown_name
    inlines = [ApiKeyInline]
    change_form_template = "admin/verification/apiclient/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("keys")

    @admin.display(description=_("usable keys"))
    def usable_keys(self, obj):
        now, mode = timezone.now(), ApiKey.current_mode()
        hints = [f"{key.hint}…" for key in obj.keys.all() if key.is_usable(now) and key.mode == mode]
        return ", ".join(hints) or "—"

    def get_urls(self):
        return [
            path("<int:client_id>/rotate-key/", self.admin_site.admin_view(self.rotate_key_view),
                 name="verification_apiclient_rotate_key"),
            path("<int:client_id>/revoke-keys/", self.admin_site.admin_view(self.revoke_keys_view),
                 name="verification_apiclient_revoke_keys"),
            path("<int:client_id>/methods/", self.admin_site.admin_view(self.methods_view),
                 name="verification_apiclient_methods"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {**(extra_context or {}), "can_manage_keys": request.user.has_perm("verification.manage_api_keys")}
        return super().change_view(request, object_id, form_url, context)

    def _client_for_key_management(self, request, client_id) -> ApiClient:
        if not request.user.has_perm("verification.manage_api_keys"):
            raise PermissionDenied
        return get_object_or_404(ApiClient, pk=client_id)

    def _page(self, request, template, client, **context) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "client": client, **context}
        return TemplateResponse(request, f"admin/verification/apiclient/{template}", context)

    def rotate_key_view(self, request, client_id):
        """GET: the form. POST: a new key, on a page that is shown once and
        kept by no cache; nothing else holds the key."""
        client = self._client_for_key_management(request, client_id)
        form = RotateKeyForm(request.POST if request.method == "POST" else None)
        if request.method != "POST" or not form.is_valid():
            return self._page(request, "rotate_key.html", client, form=form, title=_("Rotate the API key"))
        grace_hours = form.cleaned_data["grace_hours"]
        key = api_keys.api_key_rotate(client=client, grace_hours=grace_hours, actor=request.user, via="admin")
        response = self._page(request, "new_key.html", client, key=key, grace_hours=grace_hours,
                              title=_("New API key"))
        response["Cache-Control"] = "no-store, private"
        return response

    def methods_view(self, request, client_id):
        """GET: the client's method order for `auto`. POST: a new one."""
        client = self._client_for_key_management(request, client_id)
        form = MethodOrderForm(request.POST if request.method == "POST" else None,
                               initial={"methods": ", ".join(client.methods)})
        if request.method != "POST" or not form.is_valid():
            return self._page(request, "methods.html", client, form=form, title=_("Method order for auto"))
        client.set_methods(form.cleaned_data["methods"])
        logger.info("client=%s method order set by user=%s: %s", client.pk, request.user.pk, client.methods)
        messages.success(request, _("The method order of %(client)s is saved.") % {"client": client.name})
        return HttpResponseRedirect(reverse("admin:verification_apiclient_change", args=[client.pk]))

    def revoke_keys_view(self, request, client_id):
        """GET: what will happen, and a button. POST: every key stops."""
        client = self._client_for_key_management(request, client_id)
        if request.method != "POST":
            return self._page(request, "revoke_keys.html", client, title=_("Revoke every API key"))
        revoked = api_keys.api_keys_revoke(client=client, actor=request.user, via="admin")
        messages.success(request, _("%(count)d key(s) of %(client)s revoked; they stop working now.")
                         % {"count": revoked, "client": client.name})
        return HttpResponseRedirect(reverse("admin:verification_apiclient_change", args=[client.pk]))
