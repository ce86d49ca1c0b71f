"""Forms of the help-desk pages. They parse and show errors; the rules live in services."""

from django import forms

from helpdesk import documents
from helpdesk.models import (
    DESCRIPTION_MAX_LENGTH,
    FEEDBACK_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    PREFERRED_TIMES_MAX_LENGTH,
    TITLE_MAX_LENGTH,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": documents.ACCEPT_ATTRIBUTE}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


class HelpRequestForm(forms.Form):
    category = forms.TypedChoiceField(coerce=int, choices=(), empty_value=None)
    title = forms.CharField(
        max_length=TITLE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Eigenvalues of a 3x3 matrix", "autocomplete": "off"}),
    )
    description = forms.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "What are you stuck on? What have you tried?"}),
    )
    preferred_times = forms.CharField(
        label="Preferred times",
        max_length=PREFERRED_TIMES_MAX_LENGTH,
        required=False,
        help_text="When could you meet? e.g. “weekdays after 18:00”, “Sat 10 to 12”.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    files = MultipleFileField(
        label="Documents",
        required=False,
        help_text=f"Up to {documents.MAX_FILES} files: {documents.ALLOWED_DESCRIPTION}; "
        f"10 MB each, 25 MB together. Only you, your expert and staff can download them.",
    )

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "Choose a subject…")] + [(c.pk, c.name) for c in categories]


class QueueFilterForm(forms.Form):
    category = forms.ChoiceField(required=False, choices=())
    q = forms.CharField(
        label="Search",
        max_length=120,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Words in the title or description"}),
    )

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "All my categories")] + [(c.slug, c.name) for c in categories]


class ScheduleForm(forms.Form):
    start = forms.DateTimeField(
        label="Starts", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    duration = forms.TypedChoiceField(
        coerce=int,
        initial=60,
        choices=[(30, "30 minutes"), (45, "45 minutes"), (60, "1 hour"), (90, "1½ hours"), (120, "2 hours")],
    )


class ReleaseForm(forms.Form):
    note = forms.CharField(
        label="Why are you giving it back?",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CancelForm(forms.Form):
    note = forms.CharField(label="Reason (optional)", max_length=NOTE_MAX_LENGTH, required=False)


class MeetingLinkForm(forms.Form):
    url = forms.URLField(
        label="Meeting link",
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://teams.microsoft.com/l/meetup-join/…"}),
    )


class RatingForm(forms.Form):
    stars = forms.TypedChoiceField(
        coerce=int,
        choices=[(5, "5 — excellent"), (4, "4"), (3, "3"), (2, "2"), (1, "1 — poor")],
        widget=forms.RadioSelect,
    )
    feedback = forms.CharField(max_length=FEEDBACK_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 3}))
