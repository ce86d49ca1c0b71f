"""Forms of the help-desk pages. They parse and show errors; the rules live in services
(and, for slots, in helpdesk.slots, which both use).

Times typed into a form are in the active zone, the signed-in user's (TimeZoneMiddleware):
the requester's slots in theirs, the expert's pick or proposal in theirs.
"""

import datetime as dt
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import from_current_timezone
from django.utils import timezone

from config.timezones import format_range
from helpdesk import documents
from helpdesk import slots as slot_rules
from helpdesk.models import (
    DESCRIPTION_MAX_LENGTH,
    FEEDBACK_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TIMES_NOTE_MAX_LENGTH,
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
    times_note = forms.CharField(
        label="Anything else about when you can meet?",
        max_length=TIMES_NOTE_MAX_LENGTH,
        required=False,
        help_text="e.g. “any weekday evening works too”.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    files = MultipleFileField(
        label="Documents",
        required=False,
        help_text=f"Up to {documents.MAX_FILES} files: {documents.ALLOWED_DESCRIPTION}; "
        f"10 MB each, 25 MB together. Only you, your expert and staff can download them.",
    )

    def __init__(self, *args, categories=(), kept_documents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "Choose a subject…")] + [(c.pk, c.name) for c in categories]
        if kept_documents:
            # "Submit it again": the earlier request's documents, ticked; untick to leave one out.
            self.fields["keep_documents"] = forms.MultipleChoiceField(
                label="Documents of your earlier request",
                required=False,
                choices=[(str(document.public_id), document.original_name) for document in kept_documents],
                initial=[str(document.public_id) for document in kept_documents],
                widget=forms.CheckboxSelectMultiple,
                help_text="Copied to the new request. Untick any you do not need.",
            )
            self.kept_documents = {str(document.public_id): document for document in kept_documents}


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


class SlotForm(forms.Form):
    """One preferred time: a day, and from when to when on it (in the requester's zone)."""

    day = forms.DateField(
        label="Day", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    start_time = forms.TimeField(
        label="From", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end_time = forms.TimeField(
        label="To", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    def clean(self):
        cleaned = super().clean()
        day, start_time, end_time = cleaned.get("day"), cleaned.get("start_time"), cleaned.get("end_time")
        if self.errors:
            return cleaned
        if not (day or start_time or end_time):
            cleaned["slot"] = None
            return cleaned
        for name, value in (("day", day), ("start_time", start_time), ("end_time", end_time)):
            if value is None:
                self.add_error(name, "Give the day, and from when to when.")
        if self.errors:
            return cleaned
        start = from_current_timezone(dt.datetime.combine(day, start_time))
        end = from_current_timezone(dt.datetime.combine(day, end_time))
        try:
            cleaned["slot"] = slot_rules.check_slot(start, end)
        except ValidationError as error:
            self.add_error(
                "end_time" if error.code in ("slot_end_before_start", "slot_too_short", "slot_too_long") else "day",
                error,
            )
        return cleaned


class BaseSlotFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        try:
            self.slots = slot_rules.check_slots(self.filled())
        except ValidationError as error:
            raise ValidationError(error.message_dict["slots"]) from None

    def filled(self) -> list[tuple]:
        return [form.cleaned_data["slot"] for form in self.forms if form.cleaned_data.get("slot")]


SlotFormSet = forms.formset_factory(
    SlotForm,
    formset=BaseSlotFormSet,
    extra=slot_rules.MAX_SLOTS,
    max_num=slot_rules.MAX_SLOTS,
    absolute_max=slot_rules.MAX_SLOTS,
    validate_max=True,
)

DURATIONS = [(30, "30 minutes"), (45, "45 minutes"), (60, "1 hour"), (90, "1½ hours"), (120, "2 hours")]
OTHER_TIME = "other"


class SessionTimeForm(forms.Form):
    """The expert's choice of session time: one of the requester's slots (the session starts
    when the slot does), or another time they propose; and how long it lasts. Gives
    cleaned_data["start"] and ["end"] as instants."""

    choice = forms.ChoiceField(label="When", widget=forms.RadioSelect, required=False)
    start = forms.DateTimeField(
        label="Another time: starts",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    duration = forms.TypedChoiceField(coerce=int, initial=60, choices=DURATIONS)

    def __init__(self, *args, slots=(), **kwargs):
        super().__init__(*args, **kwargs)
        now = timezone.now()
        self.slots = {str(slot.pk): slot for slot in slots if slot.start > now}
        choices = [(key, format_range(slot.start, slot.end)) for key, slot in self.slots.items()]
        self.fields["choice"].choices = [*choices, (OTHER_TIME, "Another time (I propose it)")]
        if choices:
            self.fields["choice"].required = True
            self.fields["choice"].initial = choices[0][0]
        else:
            self.fields["choice"].widget = forms.HiddenInput()
            self.fields["choice"].initial = OTHER_TIME
            self.fields["start"].label = "Starts"

    def clean(self):
        cleaned = super().clean()
        choice, start, minutes = cleaned.get("choice") or OTHER_TIME, cleaned.get("start"), cleaned.get("duration")
        if minutes is None:
            return cleaned
        length = timedelta(minutes=minutes)
        if choice == OTHER_TIME:
            if start is None:
                self.add_error("start", "Choose the date and time you propose.")
                return cleaned
        else:
            slot = self.slots.get(choice)
            if slot is None:
                self.add_error("choice", "Choose one of the listed times.")
                return cleaned
            start = slot.start
            if start + length > slot.end:
                available = int((slot.end - slot.start).total_seconds() // 60)
                self.add_error(
                    "duration",
                    f"That time is {available} minutes long: choose a shorter session, or propose another time.",
                )
                return cleaned
        cleaned["start"], cleaned["end"] = start, start + length
        return cleaned


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
