from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from experts import services
from experts.models import Category, ExpertiseAreaRequest, ExpertProfile


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "expert_count"]
    list_filter = ["is_active"]
    list_editable = ["is_active"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(expert_total=Count("experts"))

    @admin.display(description="experts", ordering="expert_total")
    def expert_count(self, category: Category) -> int:
        return category.expert_total


class AreaRequestInline(admin.TabularInline):
    """The expert's requests for new areas, read only: they are decided in their own queue."""

    model = ExpertiseAreaRequest
    fields = ["category", "status", "motivation", "review_note", "created_at", "reviewed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "requests for new areas (decided under Expertise area requests)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category")


@admin.register(ExpertProfile)
class ExpertProfileAdmin(admin.ModelAdmin):
    """Review applications: open ones first. The actions go through the services, so every
    applicant is notified of the decision exactly once."""

    list_display = ["user", "headline", "status", "category_names", "rating", "sessions_completed", "created_at"]
    list_filter = ["status", "categories", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["user__email", "user__first_name", "user__last_name", "headline"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    filter_horizontal = ["categories"]
    readonly_fields = [
        "status",
        "review_note",
        "reviewed_by",
        "reviewed_at",
        "rating_count",
        "rating_sum",
        "sessions_completed",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["user", "headline", "bio", "categories", "languages", "availability_note"]}),
        ("Review", {"fields": ["status", "review_note", "reviewed_by", "reviewed_at", "max_active_requests"]}),
        ("Track record", {"fields": ["rating_count", "rating_sum", "sessions_completed", "created_at", "updated_at"]}),
    ]
    actions = ["approve_selected", "reject_selected"]
    inlines = [AreaRequestInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("categories")

    def get_readonly_fields(self, request, obj=None):
        # An approval belongs to the person reviewed: moving a profile to another account would
        # make them an expert unreviewed and strip the first of their standing unnoticed.
        return [*self.readonly_fields, "user"] if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        # The profile carries the expert's track record and the requests' history points at
        # it: withdraw an approval with "Reject" (which hands back the held requests) instead.
        return False

    def get_ordering(self, request):
        # Pending applications first, oldest first: the review queue.
        pending_first = Case(
            When(status=ExpertProfile.Status.PENDING, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return [pending_first.asc(), "created_at"]

    @admin.display(description="areas")
    def category_names(self, profile: ExpertProfile) -> str:
        return ", ".join(category.name for category in profile.categories.all())

    @admin.display(description="rating", ordering="rating_count")
    def rating(self, profile: ExpertProfile) -> str:
        if not profile.rating_count:
            return "—"
        return f"{profile.rating_average} ★ ({profile.rating_count})"

    def _review(
        self, request: HttpRequest, queryset: QuerySet[ExpertProfile], *, approve: bool, note: str = ""
    ) -> None:
        done, skipped = 0, []
        for profile in queryset.select_related("user"):
            try:
                if approve:
                    services.approve_expert(profile_id=profile.pk, reviewer=request.user, note=note)
                else:
                    services.reject_expert(profile_id=profile.pk, reviewer=request.user, note=note)
            except services.ExpertRefusal as refusal:
                skipped.append(f"{profile.user}: {refusal.message}")
            except ExpertProfile.DoesNotExist:
                reason = "it no longer exists"
                skipped.append(f"{profile.user}: {reason}")
            except PermissionDenied as error:
                self.message_user(request, str(error), messages.ERROR)
                return
            else:
                done += 1
        verb = "Approved" if approve else "Rejected"
        if done:
            plural = done != 1
            told = "the applicants were notified" if plural else "the applicant was notified"
            self.message_user(request, f"{verb} {done} application{'s' if plural else ''}; {told}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {len(skipped)}: " + "; ".join(skipped), messages.WARNING)

    @admin.action(description="Approve selected applications", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[ExpertProfile]) -> None:
        self._review(request, queryset, approve=True)

    @admin.action(description="Reject selected applications", permissions=["change"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[ExpertProfile]) -> HttpResponse | None:
        """First an intermediate page asks for the note the applicants will read; then reject."""
        note = request.POST.get("review_note", "").strip() if "confirm" in request.POST else None
        error = ""
        if note is not None:
            if note and len(note) <= services.REVIEW_NOTE_MAX:
                self._review(request, queryset, approve=False, note=note)
                return None
            error = (
                "Write a note for the applicants: it tells them why, and what to improve."
                if not note
                else f"Keep the note to {services.REVIEW_NOTE_MAX} characters or fewer."
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject expert applications",
            "opts": self.model._meta,
            "profiles": queryset.select_related("user"),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "note": note if note is not None else REJECTION_DEFAULT_NOTE,
            "note_max": services.REVIEW_NOTE_MAX,
            "error": error,
        }
        return TemplateResponse(
            request, "experts/admin/reject_confirmation.html", context, status=400 if error else 200
        )


# The note proposed on the rejection page; staff edit it before confirming.
REJECTION_DEFAULT_NOTE = (
    "Thank you for applying. We could not approve your application as it stands: add more detail "
    "about your experience in the areas you chose, and apply again."
)


@admin.register(ExpertiseAreaRequest)
class ExpertiseAreaRequestAdmin(admin.ModelAdmin):
    """The review queue of approved experts' new areas: pending first, oldest first. Approve and
    decline go through the services (the area is added, the expert told once by notification
    and e-mail); declining asks for the reason the expert reads."""

    list_display = ["expert", "category", "status", "motivation", "created_at", "reviewed_by", "reviewed_at"]
    list_filter = ["status", "category", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["profile__user__email", "profile__user__first_name", "profile__user__last_name", "category__name"]
    list_select_related = ["profile__user", "category", "reviewed_by"]
    readonly_fields = [
        "profile",
        "category",
        "motivation",
        "status",
        "review_note",
        "reviewed_by",
        "reviewed_at",
        "created_at",
    ]
    actions = ["approve_selected", "decline_selected"]

    def has_add_permission(self, request) -> bool:
        return False  # experts ask in the app; staff add an area directly on the expert profile

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a decision is history the expert reads

    def get_ordering(self, request):
        pending_first = Case(
            When(status=ExpertiseAreaRequest.Status.PENDING, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [pending_first.asc(), "created_at"]

    @admin.display(description="expert", ordering="profile__user__first_name")
    def expert(self, area_request: ExpertiseAreaRequest) -> str:
        return str(area_request.profile.user)

    def _review(self, request: HttpRequest, queryset, *, approve: bool, note: str) -> None:
        done, skipped = 0, []
        for area_request in queryset.select_related("profile__user", "category"):
            try:
                if approve:
                    services.approve_expertise_area(request_id=area_request.pk, reviewer=request.user, note=note)
                else:
                    services.decline_expertise_area(request_id=area_request.pk, reviewer=request.user, note=note)
            except services.ExpertRefusal as refusal:
                skipped.append(f"{area_request.profile.user}, {area_request.category.name}: {refusal.message}")
            except ExpertiseAreaRequest.DoesNotExist:
                reason = "it no longer exists"
                skipped.append(f"{area_request.profile.user}, {area_request.category.name}: {reason}")
            except PermissionDenied as error:
                self.message_user(request, str(error), messages.ERROR)
                return
            else:
                done += 1
        if done:
            verb = "Approved" if approve else "Declined"
            told = "the experts were notified" if done != 1 else "the expert was notified"
            self.message_user(request, f"{verb} {done} request{'s' if done != 1 else ''}; {told}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {len(skipped)}: " + "; ".join(skipped), messages.WARNING)

    def _confirm(self, request: HttpRequest, queryset, *, approve: bool) -> HttpResponse | None:
        """An intermediate page takes the note (a decline's reason is required); then review."""
        note = request.POST.get("review_note", "").strip() if "confirm" in request.POST else None
        error = ""
        if note is not None:
            if len(note) > services.AREA_NOTE_MAX:
                error = f"Keep the note to {services.AREA_NOTE_MAX} characters or fewer."
            elif not note and not approve:
                error = "Write the reason for the experts: it tells them why, and what would change your mind."
            else:
                self._review(request, queryset, approve=approve, note=note)
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Approve new areas" if approve else "Decline new areas",
            "verb": "Approve" if approve else "Decline",
            "approve": approve,
            "action": "approve_selected" if approve else "decline_selected",
            "opts": self.model._meta,
            "area_requests": queryset.select_related("profile__user", "category"),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "note": note or "",
            "note_max": services.AREA_NOTE_MAX,
            "error": error,
        }
        return TemplateResponse(
            request, "experts/admin/area_review_confirmation.html", context, status=400 if error else 200
        )

    @admin.action(description="Approve selected requests (adds the areas)", permissions=["change"])
    def approve_selected(self, request: HttpRequest, queryset) -> HttpResponse | None:
        return self._confirm(request, queryset, approve=True)

    @admin.action(description="Decline selected requests (asks for a reason)", permissions=["change"])
    def decline_selected(self, request: HttpRequest, queryset) -> HttpResponse | None:
        return self._confirm(request, queryset, approve=False)
