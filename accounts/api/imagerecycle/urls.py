from django.urls import URLPattern

from accounts.api.imagerecycle.views import (
    AccountConsumptionApi,
    AccountMineApi,
    SubAccountApi,
    SubAccountResetQuotaApi,
    SubAccountResetSecretApi,
    SubAccountsApi,
)
from crush.api.routing import slash_optional

urlpatterns: list[URLPattern] = [
    *slash_optional("accounts/mine", AccountMineApi.as_view(), "imagerecycle-account-mine"),
    *slash_optional(
        "accounts/mine/consumption", AccountConsumptionApi.as_view(), "imagerecycle-account-consumption"
    ),
    *slash_optional("accounts/sub", SubAccountsApi.as_view(), "imagerecycle-sub-accounts"),
    *slash_optional(
        "accounts/sub/reset_secret/<int:sub_account_id>",
        SubAccountResetSecretApi.as_view(),
        "imagerecycle-sub-account-reset-secret",
    ),
    *slash_optional(
        "accounts/sub/reset_quota/<int:sub_account_id>",
        SubAccountResetQuotaApi.as_view(),
        "imagerecycle-sub-account-reset-quota",
    ),
    *slash_optional("accounts/sub/<int:sub_account_id>", SubAccountApi.as_view(), "imagerecycle-sub-account"),
]
