"""The console's form for the sites that may embed the chat widget. The form only splits the
text box into lines; `conversations.widget` validates them and names bad ones by line."""

from __future__ import annotations

import re

from django import forms

from conversations.widget import ALLOWED_ORIGINS_MAX, ORIGIN_MAX_LENGTH

# Room for every allowed origin at its longest, plus blank lines and a pasted list to tidy up.
ALLOWED_ORIGINS_TEXT_MAX_LENGTH = 2 * ALLOWED_ORIGINS_MAX * (ORIGIN_MAX_LENGTH + 1)


class AllowedOriginsForm(forms.Form):
    allowed_origins = forms.CharField(
        required=False,
        # Not stripped: leading blank lines would shift the line numbers the errors name.
        strip=False,
        max_length=ALLOWED_ORIGINS_TEXT_MAX_LENGTH,
        label="Sites that may show the widget",
        help_text=f"One origin per line: scheme and host, and the port if it is not the usual "
        f"one, e.g. https://www.example.com or http://localhost:3000. "
        f"https://*.example.com allows every subdomain of example.com (list example.com "
        f"itself too if it shows the widget). At most {ALLOWED_ORIGINS_MAX}. "
        f"Leave empty to let no other site show the chat.",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
        error_messages={
            "max_length": f"This list is too long: at most {ALLOWED_ORIGINS_MAX} origins, "
            "one per line.",
        },
    )

    def clean_allowed_origins(self) -> list[str]:
        text: str = self.cleaned_data["allowed_origins"]
        # The line breaks a text box has, so line numbers match what the person sees
        # (str.splitlines also breaks at form feeds and Unicode separators).
        return re.split(r"\r\n|\r|\n", text)
