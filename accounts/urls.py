from django.urls import path
from django.views.generic import RedirectView

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("register/sent/", views.register_sent, name="register_sent"),
    path("studies/universities/", views.university_options, name="university_options"),
    path("studies/courses/", views.course_options, name="course_options"),
    path("email/", views.email_settings, name="email"),
    path("email/cancel/", views.email_change_cancel, name="email_change_cancel"),
    path("email/verify/", views.email_verification_resend, name="email_verification_resend"),
    path("email/confirm/<str:token>/", views.email_confirm, name="email_confirm"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/edit/", views.profile_edit, name="profile_edit"),
    # Links sent before profiles moved to /people/<public_id>/ (e-mails, stored notifications).
    path(
        "profile/<uuid:public_id>/", RedirectView.as_view(pattern_name="social:profile", permanent=True), name="profile"
    ),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/export/", views.data_export_request, name="data_export_request"),
    path("privacy/exports/<uuid:export_id>/download/", views.data_export_download, name="data_export_download"),
    path("privacy/delete/", views.account_delete, name="account_delete"),
    path("deleted/", views.account_deleted, name="deleted"),
    path("restore/", views.account_restore, name="restore"),
    path("password/change/", views.password_change, name="password_change"),
    path("password/reset/", views.password_reset, name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
