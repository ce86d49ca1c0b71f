from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import forms, live_access, services
from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, with the e-mail address as the login."""

    form = forms.AdminUserChangeForm
    add_form = forms.AdminUserCreationForm
    change_password_form = forms.AdminPasswordChangeForm

    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "public_id")}),
        ("Studies and profile", {"fields": ("university", "course", "bio", "interests", "time_zone", "avatar")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined", "deletion_requested_at", "erased_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "first_name", "last_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    # Pictures only ever come through the avatar service (type check, metadata stripped).
    # Deletion is the owner's act (accounts.deletion), shown here, never set by hand.
    readonly_fields = ("public_id", "avatar", "last_login", "date_joined", "deletion_requested_at", "erased_at")
    list_display = ("email", "first_name", "last_name", "university", "course", "is_staff", "is_active", "date_joined")
    list_filter = ("university", "course", "is_staff", "is_active", "is_superuser", "date_joined", "groups")
    search_fields = ("email", "first_name", "last_name", "university", "course")
    ordering = ("email",)
    date_hierarchy = "date_joined"
    show_facets = admin.ShowFacets.NEVER  # the university list can be long; counts on demand only

    def save_model(self, request, obj, form, change):
        # Unticking "active" ends every way in, as the moderation action does.
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivating:
            services.deactivate_account(user=obj)

    def delete_model(self, request, obj):
        user_id = obj.pk
        super().delete_model(request, obj)
        live_access.revoke_live_sockets(user_id=user_id)

    def delete_queryset(self, request, queryset):
        user_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        for user_id in user_ids:
            live_access.revoke_live_sockets(user_id=user_id)
