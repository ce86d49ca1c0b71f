from django.contrib import admin, messages

from notifications import services
from notifications.models import MESSAGE_QUOTING_KINDS, EmailDelivery, Notification, NotificationPreference


class EmailDeliveryInline(admin.StackedInline):
    model = EmailDelivery
    extra = 0
    can_delete = False
    readonly_fields = ["status", "attempts", "to_address", "last_error", "created_at", "updated_at", "sent_at"]
    exclude = ["action_url"]  # a single-use link belongs in the mailbox only

    def has_add_permission(self, request, obj=None):
        return False


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("yes", "Read"), ("no", "Unread")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Notifications staff can read and send (announcements). The body of a notification that
    quotes chat messages (unread messages, mentions, message requests) is never shown here:
    staff read messages only through reports (docs/privacy.md)."""

    list_display = ["title", "kind", "recipient", "created_at", "is_read"]
    list_filter = ["kind", ReadFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["recipient__email", "title"]
    date_hierarchy = "created_at"
    list_select_related = ["recipient"]
    raw_id_fields = ["recipient"]
    readonly_fields = ["created_at"]
    inlines = [EmailDeliveryInline]

    def has_change_permission(self, request, obj=None):
        # View only: changing the kind would show the body.
        if obj is not None and obj.kind in MESSAGE_QUOTING_KINDS:
            return False
        return super().has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and obj.kind in MESSAGE_QUOTING_KINDS:
            return [name for name in fields if name != "body"]
        return fields

    @admin.display(boolean=True, description="read")
    def is_read(self, obj: Notification) -> bool:
        return obj.is_read


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    list_display = ["notification", "recipient_email", "status", "attempts", "updated_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["notification__recipient__email", "notification__title"]
    list_select_related = ["notification", "notification__recipient"]
    raw_id_fields = ["notification"]
    readonly_fields = ["attempts", "to_address", "last_error", "created_at", "updated_at", "sent_at"]
    exclude = ["action_url"]  # a single-use link belongs in the mailbox only
    actions = ["requeue"]

    @admin.display(description="recipient", ordering="notification__recipient__email")
    def recipient_email(self, obj: EmailDelivery) -> str:
        return obj.notification.recipient.email

    @admin.action(description="Re-queue selected e-mails (never re-sends sent ones)")
    def requeue(self, request, queryset):
        count = services.requeue_deliveries(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} e-mail(s) queued again.", messages.SUCCESS)


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "email"]
    list_filter = ["kind", "email"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
