from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from social import services
from social.models import Block, FriendRequest, Friendship, Report


@admin.register(FriendRequest)
class FriendRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "from_user", "to_user", "status", "created_at", "responded_at"]
    list_filter = ["status", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["from_user__email", "to_user__email", "from_user__last_name", "to_user__last_name"]
    list_select_related = ["from_user", "to_user"]
    raw_id_fields = ["from_user", "to_user"]
    readonly_fields = ["created_at", "responded_at", "pending_low", "pending_high"]
    date_hierarchy = "created_at"


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    list_display = ["id", "user_low", "user_high", "created_at"]
    list_filter = [("created_at", admin.DateFieldListFilter)]
    search_fields = ["user_low__email", "user_high__email", "user_low__last_name", "user_high__last_name"]
    list_select_related = ["user_low", "user_high"]
    raw_id_fields = ["user_low", "user_high"]
    readonly_fields = ["created_at"]


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["id", "blocker", "blocked", "created_at"]
    list_filter = [("created_at", admin.DateFieldListFilter)]
    search_fields = ["blocker__email", "blocked__email"]
    list_select_related = ["blocker", "blocked"]
    raw_id_fields = ["blocker", "blocked"]
    readonly_fields = ["created_at"]


class ReportedActiveFilter(admin.SimpleListFilter):
    title = "reported account"
    parameter_name = "reported_active"

    def lookups(self, request, model_admin):
        return [("yes", "Still active"), ("no", "Deactivated")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(reported__is_active=True)
        if self.value() == "no":
            return queryset.filter(reported__is_active=False)
        return queryset


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """The moderation queue: open reports first, oldest first.

    A report filed from a conversation carries copies of the messages the reporter picked
    (chat.ReportedMessage, reached here by its reverse name `reported_messages`). They are read
    on the chat admin's evidence page, which records each opening (docs/privacy.md); this page
    shows only how many there are and the way there.
    """

    list_display = [
        "id",
        "reported",
        "reason",
        "reporter",
        "message_count",
        "created_at",
        "handled",
        "handled_by",
        "reported_is_active",
    ]
    list_filter = ["handled", "reason", ("created_at", admin.DateFieldListFilter), ReportedActiveFilter]
    search_fields = ["reported__email", "reported__last_name", "reporter__email", "details"]
    list_select_related = ["reported", "reporter", "handled_by"]
    raw_id_fields = ["reporter", "reported"]
    readonly_fields = [
        "reporter",
        "reported",
        "reason",
        "details",
        "evidence",
        "created_at",
        "handled_at",
        "handled_by",
    ]
    fields = [
        "reporter",
        "reported",
        "reason",
        "details",
        "evidence",
        "created_at",
        "handled",
        "handled_at",
        "handled_by",
        "staff_note",
    ]
    ordering = ["handled", "created_at", "id"]
    actions = ["mark_handled", "deactivate_reported_accounts"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(carried=Count("reported_messages"))

    @admin.display(description="messages", ordering="carried")
    def message_count(self, report: Report) -> int:
        return report.carried

    @admin.display(description="reported messages")
    def evidence(self, report: Report) -> str:
        count = getattr(report, "carried", None)
        if count is None:
            count = report.reported_messages.count()
        if not count:
            return "None: filed without messages."
        return format_html(
            '<a class="button" href="{}">Read the {} reported message{}</a> '
            '<span class="help">Each opening is recorded in the evidence access log.</span>',
            reverse("admin:chat_report_evidence", args=[report.pk]),
            count,
            "" if count == 1 else "s",
        )

    @admin.display(boolean=True, description="account active")
    def reported_is_active(self, report: Report) -> bool:
        return report.reported.is_active

    def save_model(self, request, obj, form, change):
        # Ticking "handled" by hand records who and when, like the action does.
        if obj.handled and obj.handled_at is None:
            obj.handled_at = timezone.now()
            obj.handled_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Mark selected reports handled", permissions=["change"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        changed = services.mark_reports_handled(
            staff=request.user, report_ids=list(queryset.values_list("pk", flat=True))
        )
        if changed:
            self.message_user(
                request, f"Marked {changed} report{'s' if changed != 1 else ''} handled.", messages.SUCCESS
            )
        else:
            self.message_user(request, "Those reports were already handled.", messages.INFO)

    @admin.action(description="Deactivate the reported accounts (and mark handled)", permissions=["change"])
    def deactivate_reported_accounts(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        users = services.deactivate_reported_accounts(
            staff=request.user, report_ids=list(queryset.values_list("pk", flat=True))
        )
        if users:
            names = ", ".join(user.email for user in users)
            self.message_user(
                request,
                f"Deactivated {len(users)} account{'s' if len(users) != 1 else ''}: {names}. "
                "They can no longer log in and their API tokens are revoked.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, "No account was deactivated (already inactive, or a staff account).", messages.WARNING
            )
