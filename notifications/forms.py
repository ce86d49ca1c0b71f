from django import forms

from notifications.models import NotificationKind, choosable_kinds, email_choosable


class EmailPreferencesForm(forms.Form):
    """One e-mail checkbox per notification kind; an unticked box means "no e-mail"."""

    def __init__(self, *args, current: dict[str, bool], **kwargs):
        super().__init__(*args, **kwargs)
        for kind in NotificationKind:
            if not email_choosable(kind.value):
                continue
            self.fields[kind.value] = forms.BooleanField(
                label=kind.label, required=False, initial=current.get(kind.value, True)
            )

    def chosen(self) -> dict[str, bool]:
        return {kind: bool(self.cleaned_data[kind]) for kind in choosable_kinds()}
