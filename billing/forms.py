from django import forms
from django.utils.translation import gettext_lazy as _


class AddOnsForm(forms.Form):
    extra_bot_slots = forms.IntegerField(label=_("Extra bot slots"), min_value=0, max_value=1000)
    extended_backup_retention = forms.BooleanField(label=_("Extended backup retention"), required=False)
