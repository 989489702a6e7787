"""Operators' admin: accounts with their sub-accounts and this month's usage, API tokens and key/secret pairs.

Secrets are issued by accounts.services and shown once in a message; only their hashes are stored or shown.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import BigIntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat

from accounts import selectors, services
from accounts.models import Account, ApiKey, ApiToken, QuotaPeriod
from crush.lib.charts import stacked_bar_chart

# --- filters


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("main", "Main accounts"), ("sub", "Sub-accounts")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "main":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


class LiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("live", "Live"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "live":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


# --- accounts


class SubAccountInline(admin.TabularInline):
    model = Account
    fk_name = "parent"
    verbose_name = "sub-account"
    verbose_name_plural = "sub-accounts"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("login", "title", "plan_bytes", "file_max_size", "is_active", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("key", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _usage(used: int, allowed: int | None) -> str:
    if allowed is None:
        return f"{filesizeformat(used)} / unlimited"
    percent = 100 * used / allowed if allowed else 100.0
    return f"{filesizeformat(used)} / {filesizeformat(allowed)} ({percent:.0f}%)"


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = (
        "login",
        "email",
        "parent",
        "plan_code",
        "usage_this_month",
        "file_max_size",
        "compression_type",
        "is_active",
        "created_at",
    )
    list_filter = (KindFilter, "is_active", "plan_code", "compression_type")
    list_select_related = ("parent",)
    search_fields = ("login", "email", "title", "parent__login")
    raw_id_fields = ("parent",)
    readonly_fields = ("usage_this_month", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("login", "email", "parent", "title", "description", "is_active")}),
        (
            "Plan",
            {
                "fields": (
                    "plan_code",
                    "plan_name",
                    "plan_price",
                    "plan_bytes",
                    "usage_this_month",
                    "file_max_size",
                    "charged_at",
                    "next_charge_at",
                )
            },
        ),
        (
            "Compression defaults",
            {
                "fields": (
                    "compression_type",
                    "compression_level_jpg",
                    "compression_level_png",
                    "compression_level_gif",
                    "quality_target",
                )
            },
        ),
        ("Timestamps", {"fields": ("created_at", "updated_at")}),
    )
    inlines = [SubAccountInline, ApiTokenInline, ApiKeyInline]
    actions = ["reset_usage", "deactivate", "revoke_tokens", "revoke_keys"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        """Annotates this month's usage with one subquery, so the list costs the same for any page size."""
        used = QuotaPeriod.objects.filter(account=OuterRef("pk"), month=services.month_start()).values(
            "used_bytes"
        )[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(used_this_month=Coalesce(Subquery(used, output_field=BigIntegerField()), Value(0)))
        )

    def save_model(self, request: HttpRequest, obj: Account, form: ModelForm, change: bool) -> None:
        """A change goes through the service, which tells the account's callback URLs of a changed plan."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        services.account_update(account=obj, **{name: getattr(obj, name) for name in form.changed_data})

    @admin.display(description="usage this month", ordering="used_this_month")
    def usage_this_month(self, obj: Account) -> str:
        return _usage(getattr(obj, "used_this_month", 0), obj.plan_bytes)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**self.change_page_context(request, object_id), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def change_page_context(self, request: HttpRequest, object_id: str) -> dict[str, Any]:
        """Extra template context of an account's change page: the place for panels such as charts."""
        account = self.get_object(request, object_id)
        if account is None:
            return {}
        report = selectors.consumption_report(account=account, report_type=selectors.ReportType.SIX_MONTHS)
        chart = stacked_bar_chart(
            columns=report.columns, series=report.series, title=f"Consumption of {account.login}, six months"
        )
        return {"consumption_chart": chart}

    @admin.action(description="Reset this month's usage")
    def reset_usage(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        accounts = list(queryset)
        for account in accounts:
            services.quota_reset(account=account)
        self.message_user(request, f"This month's usage reset for {len(accounts)} account(s).")

    @admin.action(description="Deactivate (their credentials stop working)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        accounts = list(queryset)
        for account in accounts:
            services.account_deactivate(account=account)
        self.message_user(request, f"{len(accounts)} account(s) deactivated.")

    @admin.action(description="Revoke all API tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        revoked = sum(services.api_tokens_revoke(account=account) for account in queryset)
        self.message_user(request, f"{revoked} API token(s) revoked.")

    @admin.action(description="Revoke all ImageRecycle keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        revoked = sum(services.api_keys_revoke(account=account) for account in queryset)
        self.message_user(request, f"{revoked} key/secret pair(s) revoked.")


# --- credentials: created through the services, the secret shown once


class CredentialAdmin(admin.ModelAdmin):
    """Shared by tokens and keys: add asks only for the account (and a name), everything else is read-only."""

    add_fields: tuple[str, ...] = ("account",)
    change_fields: tuple[str, ...] = ()
    editable_fields: tuple[str, ...] = ("name",)  # after creation; nothing else of a credential changes
    list_select_related = ("account",)
    list_filter = (LiveFilter,)
    raw_id_fields = ("account",)
    date_hierarchy = "created_at"
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.add_fields if obj is None else self.change_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else tuple(f for f in self.change_fields if f not in self.editable_fields)

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        if change:
            obj.save(update_fields=[field for field in form.changed_data if field in self.editable_fields])
            return
        obj.pk, shown = self.issue(obj)
        obj.refresh_from_db()
        self.message_user(
            request,
            f"New {self.model._meta.verbose_name} for {obj.account}: {shown} — copy it now, "
            "the secret is stored only as a hash and will not be shown again.",
            messages.WARNING,
        )

    def issue(self, obj: Any) -> tuple[int, str]:
        """Creates the credential through the services; (its pk, the text to show once)."""
        raise NotImplementedError

    def revoke_one(self, obj: Any) -> bool:
        raise NotImplementedError

    @admin.action(description="Revoke selected")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        revoked = sum(self.revoke_one(obj) for obj in queryset)
        self.message_user(request, f"{revoked} revoked.")

    @admin.display(boolean=True, description="live")
    def live(self, obj: Any) -> bool:
        return obj.revoked_at is None


@admin.register(ApiToken)
class ApiTokenAdmin(CredentialAdmin):
    add_fields = ("account", "name")
    change_fields = ("account", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    list_display = ("prefix", "account", "name", "live", "created_at", "last_used_at", "revoked_at")
    search_fields = ("prefix", "name", "account__login")

    def issue(self, obj: ApiToken) -> tuple[int, str]:
        issued = services.api_token_create(account=obj.account, name=obj.name)
        return issued.token.pk, issued.raw

    def revoke_one(self, obj: ApiToken) -> bool:
        return services.api_token_revoke(token=obj)


@admin.register(ApiKey)
class ApiKeyAdmin(CredentialAdmin):
    change_fields = ("account", "key", "created_at", "last_used_at", "revoked_at")
    list_display = ("key", "account", "live", "created_at", "last_used_at", "revoked_at")
    search_fields = ("=key", "account__login")

    def issue(self, obj: ApiKey) -> tuple[int, str]:
        issued = services.api_key_create(account=obj.account)
        return issued.api_key.pk, f"key {issued.api_key.key}, secret {issued.secret}"

    def revoke_one(self, obj: ApiKey) -> bool:
        return services.api_key_revoke(api_key=obj)
