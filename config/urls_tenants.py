from django.urls import include, path

from accounts import views as account_views
from alerts import views as alert_views
from backups import views as backup_views
from billing import views as billing_views
from bots import views as bot_views
from bots import webhooks as bot_webhooks
from exchanges import views as exchange_views
from support import views as support_views
from tenants import views as tenant_views

urlpatterns = [
    path("", tenant_views.dashboard, name="home"),
    path("bots/", bot_views.bot_list, name="bots"),
    path("bots/new/", bot_views.bot_create, name="bot_create"),
    path("bots/<int:bot_id>/", bot_views.bot_detail, name="bot_detail"),
    path("bots/<int:bot_id>/edit/", bot_views.bot_edit, name="bot_edit"),
    path("bots/<int:bot_id>/revisions/<int:number>/rollback/", bot_views.bot_rollback, name="bot_rollback"),
    path("bots/<int:bot_id>/stop/", bot_views.bot_stop, name="bot_stop"),
    path("bots/<int:bot_id>/delete/", bot_views.bot_delete, name="bot_delete"),
    path("bots/<int:bot_id>/webhook/", bot_views.bot_webhook, name="bot_webhook"),
    path("bots/<int:bot_id>/chart/", bot_views.bot_chart, name="bot_chart"),
    path("bots/candles/", bot_views.bot_candles, name="bot_candles"),
    path("bots/<int:bot_id>/<slug:verb>/", bot_views.bot_control, name="bot_control"),
    path("exchanges/", exchange_views.connection_list, name="exchanges"),
    path("exchanges/new/", exchange_views.connection_create, name="connection_create"),
    path("exchanges/new/credentials/", exchange_views.connection_credential_fields, name="connection_credential_fields"),
    path("exchanges/<int:connection_id>/", exchange_views.connection_detail, name="connection_detail"),
    path("exchanges/<int:connection_id>/edit/", exchange_views.connection_edit, name="connection_edit"),
    path("exchanges/<int:connection_id>/test/", exchange_views.connection_test, name="connection_test"),
    path("exchanges/<int:connection_id>/delete/", exchange_views.connection_delete, name="connection_delete"),
    path("exchanges/<int:connection_id>/reset/", exchange_views.paper_reset, name="paper_reset"),
    path("alerts/", alert_views.alert_list, name="alerts"),
    path("backups/", backup_views.backup_list, name="backups"),
    path("support/", support_views.ticket_list, name="support"),
    path("settings/plan/", billing_views.plan_usage, name="billing"),
    path("settings/plan/change/", billing_views.change_plan, name="change_plan"),
    path("settings/plan/add-ons/", billing_views.change_addons, name="change_addons"),
    path("settings/plan/portal/", billing_views.billing_portal, name="billing_portal"),
    path("settings/members/", account_views.members, name="members"),
    path("settings/members/invite/", account_views.invite_member, name="invite_member"),
    path("settings/members/<int:membership_id>/role/", account_views.change_member_role, name="change_member_role"),
    path("settings/members/<int:membership_id>/remove/", account_views.remove_member, name="remove_member"),
    path(
        "settings/invitations/<int:invitation_id>/revoke/", account_views.revoke_invitation, name="revoke_invitation"
    ),
    path("invitations/<str:token>/", account_views.accept_invitation, name="accept_invitation"),
    path("handover/", account_views.handover, name="handover"),
    path("hooks/signal/<str:token>/", bot_webhooks.signal_webhook, name="signal_webhook"),
    # Workspaces are created on the public site; a workspace host has no signup.
    path("accounts/signup/", account_views.signup_elsewhere, name="account_signup"),
    path("accounts/preferences/", account_views.preferences, name="preferences"),
    path("i18n/setlang/", account_views.set_language, name="set_language"),
    path("accounts/", include("allauth.urls")),
]
