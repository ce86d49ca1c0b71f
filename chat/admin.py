"""Back office for chat: staff read conversations and messages; seqs and ids are not editable
(writes go through chat.services so ordering and pushes stay right)."""

from django.contrib import admin

from chat.models import Conversation, Membership, Message


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
    readonly_fields = [
        "kind",
        "direct_key",
        "picture_file",
        "last_seq",
        "last_message",
        "last_message_at",
        "created_at",
    ]
    # The picture lives in private storage, which has no URL (members see it through the chat's
    # view): the admin's file widget would ask for one. Staff see its name; members change it.
    exclude = ["picture"]
    inlines = [MembershipInline]
    date_hierarchy = "last_message_at"

    @admin.display(description="picture")
    def picture_file(self, conversation: Conversation) -> str:
        return conversation.picture.name or "—"

    def get_search_results(self, request, queryset, search_term):
        queryset, _ = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False


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


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "conversation",
        "seq",
        "sender",
        "kind",
        "short_body",
        "created_at",
        "edited_at",
        "deleted_at",
    ]
    list_filter = ["kind", DeletedFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["body", "sender__email"]
    list_select_related = ["conversation", "sender"]
    raw_id_fields = ["conversation", "sender"]
    readonly_fields = ["conversation", "seq", "sender", "kind", "client_id", "created_at", "edited_at", "deleted_at"]
    ordering = ["-id"]
    show_full_result_count = False

    @admin.display(description="body")
    def short_body(self, message: Message) -> str:
        return "(deleted)" if message.deleted_at else message.body[:80]
