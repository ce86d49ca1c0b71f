import unicodedata
import uuid
import zoneinfo

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone


def time_zone_label(name: str) -> str:
    return name.replace("_", " ")


def time_zone_choices() -> list[tuple[str, str]]:
    """The zones of this machine's tz database, for the profile form's select. Not frozen into
    the model: migrations must not depend on which tzdata a machine has."""
    return [(name, time_zone_label(name)) for name in sorted(zoneinfo.available_timezones())]


def validate_time_zone(value: str) -> None:
    """A zone of the tz database this process runs with (checked when the value is given)."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError("%(value)s is not a known time zone.", code="invalid_time_zone", params={"value": value})


STUDY_NAME_MAX_LENGTH = 120


def study_name_key(name: str) -> str:
    """The key that makes two spellings of a university or course one entry: letter case,
    accents, punctuation and spaces do not count ("Università  di Bologna" and
    "universita di bologna." share the key "universitadibologna")."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(char for char in decomposed.casefold() if char.isalnum())[:STUDY_NAME_MAX_LENGTH]


def clean_study_name(name: str) -> str:
    """The display spelling: inner runs of whitespace collapsed, ends stripped."""
    return " ".join((name or "").split())


class University(models.Model):
    """One university of the sign-up list, which grows as students name new ones. `name` is the
    first spelling given; `key` (study_name_key) is what makes a second spelling the same entry.
    Users keep the entry's `name` in User.university (written only by accounts.services)."""

    name = models.CharField(max_length=STUDY_NAME_MAX_LENGTH)
    key = models.CharField(max_length=STUDY_NAME_MAX_LENGTH, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "universities"

    def __str__(self) -> str:
        return self.name


class Course(models.Model):
    """A course of one university, listed the same way (first spelling kept, one key per
    university). Users keep its `name` in User.course beside the university's name."""

    university = models.ForeignKey(University, on_delete=models.CASCADE, related_name="courses")
    name = models.CharField(max_length=STUDY_NAME_MAX_LENGTH)
    key = models.CharField(max_length=STUDY_NAME_MAX_LENGTH, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["university", "key"], name="accounts_course_unique_key")]

    def __str__(self) -> str:
        return f"{self.name} ({self.university.name})"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).strip(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


# What an erased account is called wherever a name is shown (it is stored as the first name, so
# every page, payload, e-mail and admin list that shows a name shows this one).
DELETED_USER_NAME = "Deleted user"
# The domain of an erased account's placeholder address: .invalid never routes (RFC 2606).
ERASED_EMAIL_DOMAIN = "deleted.invalid"


def avatar_path(instance: "User", filename: str) -> str:
    # The stored name never comes from the uploader: a fresh random name per upload.
    return f"avatars/{instance.public_id}/{uuid.uuid4().hex}.webp"


class User(AbstractBaseUser, PermissionsMixin):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("e-mail address", max_length=254)
    # The address in lower case, kept by the database itself. Its unique index makes e-mail
    # case-insensitively unique on SQLite, MySQL and MariaDB alike (MariaDB has no unique
    # constraints on expressions, so UniqueConstraint(Lower("email")) would be skipped there).
    email_lower = models.GeneratedField(
        expression=Lower("email"),
        output_field=models.CharField(max_length=254),
        db_persist=True,
        unique=True,
        editable=False,
    )
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    university = models.CharField(max_length=120, blank=True, db_index=True)
    course = models.CharField(max_length=120, blank=True, db_index=True)
    bio = models.TextField(max_length=1000, blank=True)
    interests = models.CharField(max_length=300, blank=True, help_text="Comma-separated, e.g. robotics, jazz, chess")
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    avatar = models.ImageField(upload_to=avatar_path, blank=True, max_length=200)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # When the owner proved they read mail at `email` (followed a link sent there). The public
    # sign-up (accounts.services.register_user) creates accounts unconfirmed; accounts made by
    # staff, management commands and fixtures are trusted, hence the default.
    email_verified_at = models.DateTimeField("e-mail confirmed at", null=True, blank=True, default=timezone.now)
    # A new login address asked for and not confirmed yet: `email` stays the login until the
    # link sent to this one is followed (accounts.services.request_email_change).
    pending_email = models.EmailField("new e-mail address, unconfirmed", max_length=254, blank=True)
    # The owner asked to delete the account (accounts.deletion): it is inactive from then on, can
    # be restored by signing in during the grace period, and is erased after it.
    deletion_requested_at = models.DateTimeField("deletion asked for at", null=True, blank=True)
    # When the personal data was erased (accounts.deletion.erase_account): the row stays, as
    # "Deleted user", so what others received keeps a sender.
    erased_at = models.DateTimeField("personal data erased at", null=True, blank=True)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    class Meta:
        indexes = [
            models.Index(fields=["university", "course"], name="accounts_uni_course_idx"),
            # Directory name search (first OR last name prefix): MariaDB merges the two.
            models.Index(fields=["first_name"], name="accounts_first_name_idx"),
            models.Index(fields=["last_name"], name="accounts_last_name_idx"),
        ]
        ordering = ["first_name", "last_name"]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def get_absolute_url(self) -> str:
        return reverse("social:profile", kwargs={"public_id": self.public_id})

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name

    def get_time_zone_display(self) -> str:
        return time_zone_label(self.time_zone)

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def is_pending_deletion(self) -> bool:
        return self.deletion_requested_at is not None and self.erased_at is None

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def initials(self) -> str:
        return ((self.first_name[:1] + self.last_name[:1]) or self.email[:1]).upper()

    @property
    def interest_list(self) -> list[str]:
        return [item.strip() for item in self.interests.split(",") if item.strip()]


def export_storage():
    """Data exports live in private storage (never under MEDIA_ROOT), served only to their owner."""
    from accounts.storage import export_storage as storage

    return storage()


def export_path(instance: "DataExport", filename: str) -> str:
    return f"exports/{uuid.uuid4().hex}.zip"


class DataExport(models.Model):
    """One "download my data" archive: built by a Celery task (accounts.data_export), offered to
    its owner only, until `expires_at`; then its file is deleted by the beat sweep."""

    class Status(models.TextChoices):
        PENDING = "pending", "Being prepared"
        READY = "ready", "Ready to download"
        FAILED = "failed", "Could not be prepared"
        EXPIRED = "expired", "Expired"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(storage=export_storage, upload_to=export_path, max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes of the zip file.")
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="accounts_export_expiry_idx")]

    def __str__(self) -> str:
        return f"data export {self.public_id} of user {self.user_id}: {self.status}"

    @property
    def is_downloadable(self) -> bool:
        return self.status == self.Status.READY and self.expires_at is not None and self.expires_at > timezone.now()
