from django import forms

from chat.emoji import EMOJI
from chat.models import BODY_MAX_LENGTH, CLIENT_ID_MAX_LENGTH, NAME_MAX_LENGTH
from config.inputs import ModelIdsChoiceField
from social.models import REPORT_DETAILS_MAX_LENGTH, Report


class MessageForm(forms.Form):
    """Text, files, or both: the service refuses a message with neither ("empty_body")."""

    body = forms.CharField(
        max_length=BODY_MAX_LENGTH,
        strip=True,
        required=False,
        widget=forms.Textarea(attrs={"rows": 1, "placeholder": "Write a message…", "autocomplete": "off"}),
        error_messages={"required": "Write something before sending."},
    )
    client_id = forms.CharField(max_length=CLIENT_ID_MAX_LENGTH, widget=forms.HiddenInput)
    # The message this one answers (chat.services checks it is of the same conversation).
    reply_to = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)


class ReactionForm(forms.Form):
    """One emoji of the curated list, put on a message or taken off (`action` "add" or "remove")."""

    emoji = forms.ChoiceField(choices=EMOJI)
    action = forms.ChoiceField(choices=[("add", "add"), ("remove", "remove")], required=False)


class EditMessageForm(forms.Form):
    body = forms.CharField(
        max_length=BODY_MAX_LENGTH, strip=True, widget=forms.Textarea(attrs={"rows": 3}), label="Message"
    )


class FriendsChoiceMixin:
    def set_friends(self, friends) -> None:
        self.fields["members"].queryset = friends
        self.fields["members"].label_from_instance = lambda user: user.get_full_name()


class GroupForm(FriendsChoiceMixin, forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH, label="Group name", widget=forms.TextInput(attrs={"placeholder": "Study group"})
    )
    members = ModelIdsChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Friends to add",
        help_text="You can add more later.",
    )

    def __init__(self, *args, friends, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_friends(friends)


class AddMembersForm(FriendsChoiceMixin, forms.Form):
    members = ModelIdsChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple, label="Friends to add")

    def __init__(self, *args, friends, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_friends(friends)


class RenameForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX_LENGTH, label="Group name")


class SearchForm(forms.Form):
    q = forms.CharField(max_length=100, min_length=2, label="Search messages", required=False)


class ReportConversationForm(forms.Form):
    """Report someone from a conversation, with messages of it picked from the newest ones.
    The choices are what the reporter can see (chat.selectors.reportable_*)."""

    reported = forms.ChoiceField(label="Who are you reporting?", widget=forms.RadioSelect)
    reason = forms.ChoiceField(label="What is wrong?", choices=Report.Reason.choices, widget=forms.RadioSelect)
    details = forms.CharField(
        label="What happened?",
        max_length=REPORT_DETAILS_MAX_LENGTH,
        required=False,
        help_text="Optional, but it helps our team decide quickly. Only staff can read it.",
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": REPORT_DETAILS_MAX_LENGTH}),
    )
    message_ids = forms.TypedMultipleChoiceField(
        label="Messages to include", coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, people, messages, **kwargs):
        super().__init__(*args, **kwargs)
        self.people = {str(person.public_id): person for person in people}
        self.fields["reported"].choices = [(key, person.get_full_name()) for key, person in self.people.items()]
        self.fields["message_ids"].choices = [(message.pk, str(message.pk)) for message in messages]

    def clean_reported(self):
        return self.people[self.cleaned_data["reported"]]
