"""HTML forms of the accounts app. They parse and validate; services do the writing."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.urls import reverse_lazy

from accounts import deletion, images, selectors, services
from accounts.models import STUDY_NAME_MAX_LENGTH, User, time_zone_choices
from config.timezones import zone_name_or_default

EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
# What the suggestion lists read of a typed name (longer is no name of the lists anyway).
STUDY_QUERY_MAX_LENGTH = STUDY_NAME_MAX_LENGTH


def _email_field(*, label: str = "E-mail address", **kwargs) -> forms.EmailField:
    return forms.EmailField(
        label=label,
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@university.edu"}),
        **kwargs,
    )


STUDY_HELP = "Pick it from the list as you type, or enter it if it is not there yet: it is added for others."


def study_widgets() -> dict[str, forms.TextInput]:
    """The university and course inputs: free text with a <datalist> of the lists' entries,
    refreshed by htmx as the student types (templates/accounts/_study_fields.html renders the
    lists, so the form works without JavaScript too)."""
    common = {"autocomplete": "off", "hx-swap": "innerHTML"}
    return {
        "university": forms.TextInput(
            attrs={
                **common,
                "placeholder": "e.g. University of Bologna",
                "list": "university-options",
                "hx-get": reverse_lazy("accounts:university_options"),
                "hx-target": "#university-options",
                "hx-trigger": "input changed delay:250ms",
            }
        ),
        "course": forms.TextInput(
            attrs={
                **common,
                "placeholder": "e.g. Computer Engineering",
                "list": "course-options",
                "hx-get": reverse_lazy("accounts:course_options"),
                "hx-target": "#course-options",
                # On focus too: the university may have changed since the list was made.
                "hx-trigger": "input changed delay:250ms, focus",
                "hx-include": "[name=university]",
            }
        ),
    }


class RegistrationForm(forms.ModelForm):
    """A new student: name, e-mail, password twice, and optionally where they study."""

    email = _email_field()
    password1 = forms.CharField(
        label="Password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters; not a common password, not all digits, not like your name or e-mail.",
    )
    password2 = forms.CharField(
        label="Confirm password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    # Filled by static/js/timezone.js from the browser (Intl); editable later in the profile.
    time_zone = forms.CharField(
        required=False, max_length=64, widget=forms.HiddenInput(attrs={"data-browser-zone": ""})
    )

    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "university", "course"]
        widgets = {
            "first_name": forms.TextInput(attrs={"autocomplete": "given-name", "autofocus": True}),
            "last_name": forms.TextInput(attrs={"autocomplete": "family-name"}),
            **study_widgets(),
        }
        help_texts = {"university": STUDY_HELP}

    def clean_email(self) -> str:
        # Never "this address is taken": sign-up answers the same either way (services.register_user).
        return services.normalize_email(self.cleaned_data["email"])

    def validate_unique(self):
        pass  # the same: a taken address is not a form error

    def clean_time_zone(self) -> str:
        # Hidden and filled by the browser: a zone this server does not know (or none, without
        # JavaScript) is not the user's mistake to fix here; the site's default stands in.
        return zone_name_or_default(self.cleaned_data.get("time_zone"))

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", ValidationError("The two passwords do not match.", code="password_mismatch"))
        if password1:
            # An unsaved user with the names and address given: what the similarity check needs.
            applicant = User(**{name: cleaned.get(name) or "" for name in self.Meta.fields})
            try:
                password_validation.validate_password(password1, applicant)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned

    def registration_data(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        data["password"] = self.cleaned_data["password1"]
        data["time_zone"] = self.cleaned_data["time_zone"]
        return data


class LoginForm(auth_forms.AuthenticationForm):
    """E-mail and password, checked by django.contrib.auth.authenticate (so django-axes counts)."""

    username = forms.EmailField(
        label="E-mail address",
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    error_messages = {
        "invalid_login": "That e-mail address and password do not match an account.",
        "inactive": "This account is inactive.",
    }

    # An account closed for deletion whose right password was given (accounts.deletion): the
    # login page offers to restore it instead of saying the password is wrong.
    restorable_user = None

    def clean_username(self) -> str:
        # One spelling per address, so failed attempts in any letter case count together.
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            # authenticate() already refused (and counted) these credentials; a locked-out client
            # learns nothing more.
            if self.request is not None and not getattr(self.request, "axes_locked_out", False):
                self.restorable_user = deletion.restorable_account(
                    email=self.cleaned_data.get("username", ""), password=self.cleaned_data.get("password", "")
                )
            raise


class AccountDeletionForm(forms.Form):
    """Deleting one's account: the current password (counted like a log-in) and an explicit yes."""

    current_password = forms.CharField(
        label="Your current password",
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label="I understand: my account closes now and its personal data is erased after the grace period.",
        required=True,
        error_messages={"required": "Tick the box to confirm that you want to delete your account."},
    )


class ProfileForm(forms.ModelForm):
    """Everything a student can say about themselves, plus the picture. The login address is
    changed on its own page (EmailChangeForm): it needs the password and a confirmation."""

    avatar = forms.FileField(
        label="Profile picture",
        required=False,
        widget=forms.FileInput(attrs={"accept": images.ACCEPT_ATTRIBUTE}),
        help_text="JPEG, PNG, WEBP or GIF. It is cropped to a square.",
    )
    remove_avatar = forms.BooleanField(label="Remove my current picture", required=False)
    # A select of this machine's zones, listed when the form is built (the model only validates).
    time_zone = forms.ChoiceField(label="Time zone", choices=time_zone_choices)

    class Meta:
        model = User
        fields = ["first_name", "last_name", "university", "course", "bio", "interests", "time_zone"]
        labels = {"time_zone": "Time zone", "bio": "About me"}
        help_texts = {
            "time_zone": "Session times, e-mails and notifications are shown in this zone.",
            "university": STUDY_HELP,
        }
        widgets = {
            "bio": forms.Textarea(attrs={"rows": 4, "placeholder": "What are you studying, what are you into?"}),
            "interests": forms.TextInput(attrs={"placeholder": "robotics, jazz, chess"}),
            **study_widgets(),
        }

    def clean_avatar(self):
        upload = self.cleaned_data.get("avatar")
        if upload:
            images.inspect_avatar(upload)  # cheap header checks; full decoding happens in the service
        return upload

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("remove_avatar") and cleaned.get("avatar"):
            self.add_error("avatar", "Either upload a new picture or remove the current one, not both.")
        return cleaned

    def profile_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's form, with the current password checked like a log-in (django-axes counts it)."""

    error_messages = {
        **auth_forms.PasswordChangeForm.error_messages,
        "password_incorrect": "Your current password was entered incorrectly. Please enter it again.",
        "password_mismatch": "The two passwords do not match.",
    }

    def __init__(self, user, *args, request, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        try:
            services.check_current_password(request=self.request, user=self.user, password=old_password)
        except services.AccountRefusal as refusal:
            raise ValidationError(refusal.message, code="password_incorrect") from None
        return old_password


class EmailChangeForm(forms.Form):
    """A new login address, and the current password to prove it is the owner asking."""

    email = _email_field(label="New e-mail address")
    current_password = forms.CharField(
        label="Current password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SetPasswordForm(auth_forms.SetPasswordForm):
    error_messages = {
        **auth_forms.SetPasswordForm.error_messages,
        "password_mismatch": "The two passwords do not match.",
    }


class PasswordResetForm(forms.Form):
    email = _email_field()


# --- Admin ------------------------------------------------------------------------------


class AdminUserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "first_name", "last_name"]

    def clean_email(self) -> str:
        email = services.normalize_email(self.cleaned_data["email"])
        if selectors.email_in_use(email=email):
            raise ValidationError(services.EMAIL_TAKEN, code="unique")
        return email


class AdminUserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["university"], cleaned["course"] = services.check_study_names(
                university=cleaned.get("university", ""), course=cleaned.get("course", "")
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field, messages)
        return cleaned

    def clean_email(self) -> str:
        email = services.normalize_email(self.cleaned_data["email"])
        if selectors.email_in_use(email=email, exclude_user=self.instance):
            raise ValidationError(services.EMAIL_TAKEN, code="unique")
        return email


class AdminPasswordChangeForm(auth_forms.AdminPasswordChangeForm):
    """Staff setting a password goes through the same service: API tokens are revoked too."""

    def save(self, commit: bool = True):
        if commit and self.cleaned_data.get("set_usable_password", True):
            return services.change_password(user=self.user, new_password=self.cleaned_data["password1"])
        user = super().save(commit=commit)
        if commit:  # an unusable password ends the same ways in as a new one
            services.sign_out_everywhere(user=user)
        return user
