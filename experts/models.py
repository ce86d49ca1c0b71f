from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.text import slugify


class Category(models.Model):
    """An area of expertise (managed by staff in the admin)."""

    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:80]
        super().save(*args, **kwargs)


class ExpertProfile(models.Model):
    """A user's application to help others, and once approved by staff, their expert card."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Not approved"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="expert_profile")
    headline = models.CharField(max_length=120)
    bio = models.TextField(max_length=3000)
    categories = models.ManyToManyField(Category, related_name="experts")
    languages = models.CharField(max_length=200, blank=True, help_text="Comma-separated, e.g. English, Italian")
    availability_note = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)
    max_active_requests = models.PositiveSmallIntegerField(
        default=3, help_text="How many accepted, not yet finished help requests the expert may hold at once."
    )
    # Rating aggregate, kept by helpdesk's rating service in the same transaction as the rating.
    rating_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    sessions_completed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating_sum__lte=F("rating_count") * 5), name="expert_rating_sum_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("experts:detail", kwargs={"pk": self.pk})

    @property
    def is_verified(self) -> bool:
        return self.status == self.Status.APPROVED

    @property
    def language_list(self) -> list[str]:
        return [item.strip() for item in self.languages.split(",") if item.strip()]

    @property
    def rating_average(self) -> Decimal | None:
        if not self.rating_count:
            return None
        return (Decimal(self.rating_sum) / self.rating_count).quantize(Decimal("0.1"))


class ExpertiseAreaRequest(models.Model):
    """An approved expert asking staff for one more area of expertise. Staff approve it (the
    category joins the expert's areas) or decline it with a reason the expert reads. The
    pending requests count towards the expert's maximum number of areas."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    profile = models.ForeignKey(ExpertProfile, on_delete=models.CASCADE, related_name="area_requests")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="area_requests")
    motivation = models.CharField(
        max_length=500, blank=True, help_text="The expert's word on their experience in this area."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True, help_text="Staff's note; the reason of a decline.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="experts_area_request_queue_idx")]

    def __str__(self) -> str:
        return f"{self.category} for {self.profile.user} ({self.get_status_display()})"
