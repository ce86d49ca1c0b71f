from django import forms

from social.models import NOTE_MAX_LENGTH, REPORT_DETAILS_MAX_LENGTH, Report

FILTER_MAX_LENGTH = 120


class DirectorySearchForm(forms.Form):
    """The directory's filters (GET). Every field is optional; they combine."""

    university = forms.CharField(
        max_length=FILTER_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. University of Bologna", "autocomplete": "off"}),
    )
    course = forms.CharField(
        max_length=FILTER_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Computer Engineering", "autocomplete": "off"}),
    )
    q = forms.CharField(
        label="Name",
        max_length=FILTER_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "First or last name", "type": "search", "autocomplete": "off"}),
    )
    interests = forms.CharField(
        max_length=FILTER_MAX_LENGTH,
        required=False,
        help_text="Separate several with commas.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. robotics, jazz", "autocomplete": "off"}),
    )

    def filters(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(name, "").strip() for name in ("university", "course", "q", "interests")}

    def is_empty(self) -> bool:
        return not any(self.filters().values())


class FriendSearchForm(forms.Form):
    q = forms.CharField(
        label="Search your friends",
        max_length=FILTER_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "First or last name", "type": "search"}),
    )


class FriendRequestForm(forms.Form):
    note = forms.CharField(
        label="Add a note",
        max_length=NOTE_MAX_LENGTH,
        required=False,
        help_text=f"Optional, up to {NOTE_MAX_LENGTH} characters: say where you know each other from.",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": NOTE_MAX_LENGTH}),
    )


class ReportForm(forms.Form):
    reason = forms.ChoiceField(choices=Report.Reason.choices, widget=forms.RadioSelect)
    details = forms.CharField(
        label="What happened?",
        max_length=REPORT_DETAILS_MAX_LENGTH,
        required=False,
        help_text="Optional, but it helps our team decide quickly. Only staff can read it.",
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": REPORT_DETAILS_MAX_LENGTH}),
    )
