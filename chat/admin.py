"""Back office for chat, under the privacy rule of docs/privacy.md: staff see conversations and
messages as metadata only (who, where, when, how many files) — never a message's text or files.

A message's text reaches staff only through a report that carries it (chat.services.reports):
the report's evidence page shows the copies the reporter attached, and every opening of it (or
of one of its files) is an EvidenceAccess row, listed read-only here as the evidence access log.
Nothing here writes messages: seqs, ordering and pushes stay with chat.services.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch
from django.http import Http404
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from chat import services
from chat.models import Conversation, EvidenceAccess, Membership, Message, ReportedAttachment, ReportedMessage
from chat.views import attachment_response
from social.models import Report


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "joined_at", "left_at", "last_read_seq", "muted", "archived", "accepted"]
    readonly_fields = ["joined_at", "last_read_seq"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "name", "created_by", "last_seq", "last_message_at", "created_at"]
    list_filter = ["kind", ("last_message_at", admin.DateFieldListFilter)]
    search_fields = ["name", "memberships__user__email", "memberships__user__last_name"]
    list_select_related = ["created_by"]
    raw_id_fields = ["created_by"]
    # No `last_message` here: its preview would be a message's text. The picture lives in private
    # storage, which has no URL (members see it through the chat's view): the admin's file widget
    # would ask for one. Staff see its name; members change it.
    readonly_fields = ["kind", "direct_key", "picture_file", "last_seq", "last_message_at", "created_at"]
    exclude = ["last_message", "picture"]
    inlines = [MembershipInline]
    date_hierarchy = "last_message_at"

    @admin.display(description="picture")
    def picture_file(self, conversation: Conversation) -> str:
        return conversation.picture.name or "—"

    def get_search_results(self, request, queryset, search_term):
        queryset, _ = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False

    def has_delete_permission(self, request, obj=None):
        # The confirmation page would list every message and file name of the conversation.
        return False


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("no", "Not deleted")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class ReportedFilter(admin.SimpleListFilter):
    title = "reported"
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return [("yes", "In a report"), ("no", "Not reported")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(in_report=self.value() == "yes")
        return queryset


# The message fields staff may see: everything but the text (`body`).
MESSAGE_METADATA = [
    "conversation",
    "seq",
    "sender",
    "kind",
    "attachment_count",
    "client_id",
    "created_at",
    "edited_at",
    "deleted_at",
]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages as metadata, view only: no text, no files, no search by text, no actions.
    A reported message links to the reports that carry its copy."""

    list_display = [
        "id",
        "conversation",
        "seq",
        "sender",
        "kind",
        "attachment_count",
        "created_at",
        "edited_at",
        "deleted_at",
        "reports",
    ]
    list_filter = ["kind", DeletedFilter, ReportedFilter, ("created_at", admin.DateFieldListFilter)]
    # By who and where only: a search by text would reveal what messages say.
    search_fields = ["sender__email", "=conversation__id"]
    list_select_related = ["conversation", "sender"]
    fields = [*MESSAGE_METADATA, "reports"]
    readonly_fields = fields
    ordering = ["-id"]
    show_full_result_count = False
    actions = None

    def get_queryset(self, request):
        reported = ReportedMessage.objects.filter(message=OuterRef("pk"))
        copies = Prefetch("report_copies", queryset=ReportedMessage.objects.only("pk", "message_id", "report_id"))
        return super().get_queryset(request).annotate(in_report=Exists(reported)).prefetch_related(copies)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="reports")
    def reports(self, message: Message) -> str:
        report_ids = sorted(copy.report_id for copy in message.report_copies.all())
        links = [(reverse("admin:social_report_change", args=[pk]), pk) for pk in report_ids]
        return format_html_join(", ", '<a href="{}">#{}</a>', links) or "—"


@admin.register(EvidenceAccess)
class EvidenceAccessAdmin(admin.ModelAdmin):
    """The audit log of staff reading reported messages (append-only), and the two audited
    views themselves: a report's messages, and one of their files."""

    list_display = ["viewed_at", "staff_email", "report_link", "action", "message_list", "file_name"]
    list_filter = ["action", ("viewed_at", admin.DateFieldListFilter)]
    search_fields = ["staff_email", "=report_number"]
    date_hierarchy = "viewed_at"
    fields = ["viewed_at", "staff", "staff_email", "report_link", "action", "message_list", "file_name"]
    readonly_fields = fields
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="report", ordering="report_number")
    def report_link(self, access: EvidenceAccess) -> str:
        if access.report_id is None:
            return f"#{access.report_number} (removed)"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:social_report_change", args=[access.report_id]), access.report_number
        )

    @admin.display(description="messages")
    def message_list(self, access: EvidenceAccess) -> str:
        refs = access.messages or []
        return ", ".join(f"conversation {ref.get('conversation')} #{ref.get('seq')}" for ref in refs) or "—"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("report/<int:report_id>/", view(self.evidence_view), name="chat_report_evidence"),
            path(
                "report/<int:report_id>/file/<int:file_id>/",
                view(self.evidence_file_view),
                name="chat_report_evidence_file",
            ),
            *super().get_urls(),
        ]

    def evidence_view(self, request, report_id: int):
        """The reported messages of one report, with their text: recorded on every opening."""
        try:
            evidence = services.open_report_evidence(staff=request.user, report_id=report_id)
        except Report.DoesNotExist:
            raise Http404("No such report.") from None
        except PermissionDenied:
            return render(
                request, "admin/chat/evidence_refused.html", self._context(request, "Reported messages"), status=403
            )
        context = {
            **self._context(request, f"Reported messages of report #{evidence.report.pk}"),
            "report": evidence.report,
            "reported_messages": evidence.messages,
        }
        return TemplateResponse(request, "admin/chat/report_evidence.html", context)

    def evidence_file_view(self, request, report_id: int, file_id: int):
        try:
            reported_file = services.open_reported_file(staff=request.user, report_id=report_id, file_id=file_id)
            return attachment_response(reported_file)
        except (ReportedAttachment.DoesNotExist, FileNotFoundError):
            raise Http404("No such file.") from None
        except PermissionDenied:
            return render(
                request, "admin/chat/evidence_refused.html", self._context(request, "Reported file"), status=403
            )

    def _context(self, request, title: str) -> dict:
        return {**self.admin_site.each_context(request), "title": title, "opts": self.model._meta}
