from django import forms

from console.models import ApiKey


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=ApiKey._meta.get_field("name").max_length,
        label="Key name",
        help_text="Where the key will be used, e.g. “Billing backend”.",
    )
