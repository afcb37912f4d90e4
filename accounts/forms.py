from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts import preferences
from accounts.models import Role
from tenants.actions import do_create_workspace
from tenants.models import Tenant
from tenants.slugs import slug_from_name, validate_slug


class SignupForm(AllauthSignupForm):
    """allauth's email + password signup, plus the name of the first workspace."""

    workspace_name = forms.CharField(
        label=_("Workspace name"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Workspace name"), "autocomplete": "organization"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workspace_name"].help_text = _(
            "Your workspace gets its own address made from its name, like acme-trading.%(domain)s"
        ) % {"domain": settings.BASE_DOMAIN}

    def clean_workspace_name(self):
        name = self.cleaned_data["workspace_name"].strip()
        slug = slug_from_name(name)
        validate_slug(slug)
        if Tenant.objects.filter(slug=slug).exists():
            raise forms.ValidationError(
                _("The address “%(slug)s” is already taken. Please choose another workspace name."),
                params={"slug": slug},
                code="taken",
            )
        return name

    def save(self, request):
        with transaction.atomic():
            user = super().save(request)
            request.new_workspace = do_create_workspace(
                name=self.cleaned_data["workspace_name"], owner=user, actor=user
            )
        return user


class InviteMemberForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.TRADER)

    def __init__(self, *args, grantable_roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(value, label) for value, label in Role.choices if value in grantable_roles]


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class InviteeSignupForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    password = forms.CharField(label=_("Choose a password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, email, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_password(self):
        from accounts.models import User

        password = self.cleaned_data["password"]
        validate_password(password, User(email=self.email))
        return password


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Times on every page are shown in this zone."),
        error_messages={"invalid_choice": _("“%(value)s” is not a time zone. Choose one from the list, such as "
                                            "Asia/Shanghai.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("As my browser asks")), *settings.LANGUAGES]
        self.fields["time_zone"].choices = [(zone, zone) for zone in preferences.time_zones()]
