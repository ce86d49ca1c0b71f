from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import forms, services
from accounts.models import Course, University, User
from live import access as live_access


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
        if {"university", "course"} & set(form.changed_data):
            # One university is one entry here too: the lists' spelling, new names added.
            obj.university, obj.course = services.list_study_names(university=obj.university, course=obj.course)
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


class CourseInline(admin.TabularInline):
    model = Course
    fields = ("name", "key", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(University)
class UniversityAdmin(admin.ModelAdmin):
    """The university list as students built it (read only: users keep an entry's name, so an
    entry is neither renamed nor removed here)."""

    list_display = ("name", "key", "created_at")
    search_fields = ("name", "key")
    readonly_fields = ("name", "key", "created_at")
    inlines = [CourseInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
