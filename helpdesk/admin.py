"""The back office for help requests: filter by status, category, expert, meeting state and date;
timeline and documents inline, read-only; cancel and reassign go through the services (so the
timeline, notifications and queue pushes happen exactly as in the app)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html

from accounts.models import User
from helpdesk import services
from helpdesk.models import HelpDocument, HelpRequest, HelpRequestEvent, MeetingState, PreferredSlot, Rating
from notifications import services as notification_services


def _truncated(text: str, *, narrow: bool = False, hover: str | None = None):
    """A list cell cut with an ellipsis by CSS, the whole text (or `hover`) in its title."""
    css = "cell-truncate narrow" if narrow else "cell-truncate"
    return format_html('<span class="{}" title="{}">{}</span>', css, hover or text, text)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventInline(ReadOnlyInline):
    model = HelpRequestEvent
    fields = ["created_at", "action", "from_status", "to_status", "actor", "session_start", "note"]
    readonly_fields = fields
    ordering = ["created_at", "id"]


class SlotInline(ReadOnlyInline):
    model = PreferredSlot
    fields = ["start", "end"]
    readonly_fields = fields
    ordering = ["start", "id"]


class DocumentInline(ReadOnlyInline):
    model = HelpDocument
    fields = ["download", "content_type", "size", "sha256", "created_at"]
    readonly_fields = fields

    @admin.display(description="document")
    def download(self, document):
        href = reverse(
            "helpdesk:document", kwargs={"public_id": document.request.public_id, "document_id": document.public_id}
        )
        return format_html('<a href="{}">{}</a>', href, document.original_name)


class ExpertFilter(admin.SimpleListFilter):
    title = "expert"
    parameter_name = "expert"

    def lookups(self, request, model_admin):
        experts = User.objects.filter(assigned_help_requests__isnull=False).distinct().order_by("last_name")[:200]
        return [("none", "No expert")] + [(str(user.pk), user.get_full_name() or user.email) for user in experts]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(expert__isnull=True)
        if self.value():
            return queryset.filter(expert_id=self.value())
        return queryset


class ReassignForm(forms.Form):
    expert = forms.ModelChoiceField(
        queryset=User.objects.filter(expert_profile__status="approved", is_active=True).order_by("last_name"),
        help_text="A verified expert of the request's category, under their cap.",
    )


def _why(error) -> str:
    """The words of a refusal (services.HelpdeskRefusal) or of a refused input (ValidationError)."""
    return error.message if isinstance(error, services.HelpdeskRefusal) else " ".join(error.messages)


@admin.register(HelpRequest)
class HelpRequestAdmin(admin.ModelAdmin):
    # Fits a 1366 px laptop beside the navigation and the filters: long text is cut with an
    # ellipsis (static/css/admin.css) and kept whole in the hover title.
    list_display = [
        "short_title",
        "status",
        "category",
        "requester_name",
        "expert_name",
        "meeting_state_badge",
        "created_short",
    ]
    list_display_links = ["short_title"]
    list_filter = [
        "status",
        "category",
        ExpertFilter,
        "meeting_state",
        ("created_at", admin.DateFieldListFilter),
        ("scheduled_start", admin.DateFieldListFilter),
    ]
    search_fields = ["title", "public_id", "requester__email", "expert__email", "requester__last_name"]
    list_select_related = ["category", "requester", "expert"]
    date_hierarchy = "created_at"
    inlines = [SlotInline, DocumentInline, EventInline]
    actions = ["cancel_requests", "reassign_requests"]
    readonly_fields = [
        "public_id",
        "requester",
        "category",
        "status",
        "expert",
        "accepted_at",
        "scheduled_start",
        "scheduled_end",
        "meeting_state",
        "meeting_join_url",
        "meeting_external_id",
        "schedule_sequence",
        "meeting_id",
        "meeting_provider",
        "meeting_error",
        "meeting_email_sent_at",
        "reminder_hour_sent_at",
        "reminder_minutes_sent_at",
        "created_at",
        "updated_at",
    ]
    fields = ["title", "description", "times_note", *readonly_fields]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The staff's "meeting creation failed" notifications point here: shown, they are read.
        notification_services.mark_read_for_subject(user=request.user, subject=request.path)
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request):
        return False  # requests are submitted by users (documents, checks, queue pushes)

    def has_delete_permission(self, request, obj=None):
        return False  # the timeline is the record: cancel instead

    def has_change_permission(self, request, obj=None):
        return False  # every change goes through an action (services)

    @admin.display(description="title", ordering="title")
    def short_title(self, obj):
        return _truncated(obj.title)

    @admin.display(description="requester", ordering="requester__last_name")
    def requester_name(self, obj):
        return _truncated(obj.requester.get_full_name() or obj.requester.email, narrow=True, hover=obj.requester.email)

    @admin.display(description="expert", ordering="expert__last_name")
    def expert_name(self, obj):
        if obj.expert is None:
            return "—"
        return _truncated(obj.expert.get_full_name() or obj.expert.email, narrow=True, hover=obj.expert.email)

    @admin.display(description="created", ordering="created_at")
    def created_short(self, obj):
        local = timezone.localtime(obj.created_at)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>', local.isoformat(), local, dateformat.format(local, "j M H:i")
        )

    @admin.display(description="meeting", ordering="meeting_state")
    def meeting_state_badge(self, obj):
        if obj.meeting_state == MeetingState.FAILED:
            return format_html(
                '<strong class="cell-truncate narrow" title="{}">Failed: {}</strong>',
                obj.meeting_error,
                obj.meeting_error,
            )
        return obj.get_meeting_state_display()

    @admin.action(description="Cancel the selected requests")
    def cancel_requests(self, request, queryset):
        done, refused = 0, []
        for help_request in queryset:
            try:
                services.staff_cancel_help_request(staff=request.user, request_id=help_request.public_id)
                done += 1
            except (ValidationError, services.HelpdeskRefusal) as error:
                refused.append(f"{help_request.title}: {_why(error)}")
        if done:
            self.message_user(request, f"Cancelled {done} request(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Reassign to expert…")
    def reassign_requests(self, request, queryset):
        if "apply" in request.POST:
            form = ReassignForm(request.POST)
            if form.is_valid():
                expert = form.cleaned_data["expert"]
                for help_request in queryset:
                    try:
                        services.reassign_help_request(
                            staff=request.user, request_id=help_request.public_id, expert=expert
                        )
                        self.message_user(request, f"“{help_request.title}” → {expert}.", messages.SUCCESS)
                    except (ValidationError, services.HelpdeskRefusal) as error:
                        self.message_user(request, f"{help_request.title}: {_why(error)}", messages.ERROR)
                return None
        else:
            form = ReassignForm()
        return render(
            request,
            "helpdesk/admin_reassign.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reassign help requests",
                "form": form,
                "requests": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )


@admin.register(HelpRequestEvent)
class HelpRequestEventAdmin(admin.ModelAdmin):
    """Append-only: viewable, never added, changed or deleted here."""

    list_display = ["created_at", "request", "action", "from_status", "to_status", "actor"]
    list_filter = ["action", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["request", "actor"]
    search_fields = ["request__title", "request__public_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["request", "stars", "created_at"]
    list_filter = ["stars"]
    list_select_related = ["request"]
    readonly_fields = ["request", "stars", "feedback", "created_at"]

    def has_add_permission(self, request):
        return False
