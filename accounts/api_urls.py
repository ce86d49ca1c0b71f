"""Included under /api/v1/ by config/urls.py, inside the "api" namespace."""

from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register/", api.RegisterView.as_view(), name="register"),
    path("auth/token/", api.TokenObtainView.as_view(), name="token_obtain_pair"),
    path("auth/token/refresh/", api.TokenRefreshRotateView.as_view(), name="token_refresh"),
    path("auth/logout/", api.LogoutView.as_view(), name="logout"),
    path("auth/password/", api.PasswordChangeView.as_view(), name="password_change"),
    path("universities/", api.UniversityListView.as_view(), name="universities"),
    path("universities/<id:pk>/courses/", api.CourseListView.as_view(), name="university_courses"),
    path("me/", api.MeView.as_view(), name="me"),
    path("me/avatar/", api.AvatarView.as_view(), name="me_avatar"),
    path("me/email/", api.EmailChangeView.as_view(), name="me_email"),
    path("me/email/verification/", api.EmailVerificationView.as_view(), name="me_email_verification"),
    path("auth/email/confirm/", api.EmailConfirmView.as_view(), name="email_confirm"),
    path("live/ticket/", api.LiveTicketView.as_view(), name="live_ticket"),
    path("me/deletion/", api.AccountDeletionView.as_view(), name="me_deletion"),
    path("auth/restore/", api.AccountRestoreView.as_view(), name="account_restore"),
    path("me/exports/", api.DataExportsView.as_view(), name="me_data_exports"),
    path(
        "me/exports/<uuid:export_id>/download/",
        api.DataExportDownloadView.as_view(),
        name="me_data_export_download",
    ),
]
