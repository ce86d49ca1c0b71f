"""HTML views of the accounts app: parse a form, call a service, render or redirect."""

import copy
import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import data_export, deletion, forms, ratelimits, selectors, services
from accounts.models import DataExport
from accounts.ratelimits import lockout_message
from config.refusals import add_refusal_to_form, tell
from notifications import services as notification_services

logger = logging.getLogger(__name__)

LOGIN_BACKEND = "accounts.backends.EmailBackend"


def _apply_errors(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form, on fields it has, else on the form."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def lockout(request, original_response=None, credentials=None, *args, **kwargs) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a 429 page for the browser, JSON with `detail` for the API."""
    message, retry_after = lockout_message(request)
    if _is_api(request):
        response: HttpResponse = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    else:
        response = render(request, "429.html", {"message": message, "title": "Too many attempts"}, status=429)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


# --- Register, log in, log out -------------------------------------------------------------


def _sign_up_limited_response(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = render(
        request, "429.html", {"message": ratelimits.SIGN_UP_LIMITED_MESSAGE, "title": "Too many sign-ups"}, status=429
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Sign up. Whether or not the address already has an account, a valid form leads to the
    same "check your inbox" page (services.register_user tells the owner of a taken address)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = forms.RegistrationForm(request.POST or None)
    if request.method == "POST":
        limited, retry_after = ratelimits.sign_up_usage(request)
        if limited:
            return _sign_up_limited_response(request, retry_after)
        if form.is_valid():
            try:
                services.register_user(**form.registration_data())
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                return redirect("accounts:register_sent")
        return render(request, "accounts/register.html", _with_study_options({"form": form}), status=400)
    return render(request, "accounts/register.html", _with_study_options({"form": form}))


def _with_study_options(context: dict) -> dict:
    """The datalists of the university and course inputs, for what the form holds now (the page
    works without JavaScript; htmx refreshes them as the student types)."""
    # Unfiltered by what is typed (the browser filters a datalist itself): the first entries,
    # and the courses of the university the form holds.
    university = str(context["form"]["university"].value() or "")[: forms.STUDY_QUERY_MAX_LENGTH]
    context["university_options"] = selectors.suggest_universities(limit=selectors.PAGE_OPTIONS_LIMIT)
    context["course_options"] = selectors.suggest_courses(university=university, limit=selectors.PAGE_OPTIONS_LIMIT)
    return context


@require_GET
def university_options(request: HttpRequest) -> HttpResponse:
    """<option>s of the universities matching ?university= (the sign-up's and profile's datalist)."""
    text = request.GET.get("university", "")[: forms.STUDY_QUERY_MAX_LENGTH]
    options = selectors.suggest_universities(text=text)
    return render(request, "accounts/_study_options.html", {"options": options})


@require_GET
def course_options(request: HttpRequest) -> HttpResponse:
    """<option>s of the courses of ?university= matching ?course=."""
    university = request.GET.get("university", "")[: forms.STUDY_QUERY_MAX_LENGTH]
    text = request.GET.get("course", "")[: forms.STUDY_QUERY_MAX_LENGTH]
    options = selectors.suggest_courses(university=university, text=text)
    return render(request, "accounts/_study_options.html", {"options": options})


@never_cache
@require_GET
def register_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/register_sent.html", {"message": services.SIGN_UP_SENT_MESSAGE})


class LoginView(auth_views.LoginView):
    form_class = forms.LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"Welcome back, {form.get_user().first_name}!")
        return response

    def form_invalid(self, form):
        if form.restorable_user is not None:
            # The right password of an account closed for deletion: offer to restore it.
            remember_restore_candidate(self.request, form.restorable_user)
            return redirect("accounts:restore")
        return self.render_to_response(self.get_context_data(form=form), status=400)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.log_out(request=request)
    messages.info(request, "You have been logged out. See you soon!")
    return redirect(settings.LOGOUT_REDIRECT_URL)


# --- Profile ---------------------------------------------------------------------------------
# The profile page of a person is social.views.profile (/people/<public_id>/): who may see whom
# (blocks) is the social app's rule.


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest) -> HttpResponse:
    # The form works on a copy: a rejected edit never shows up in the navigation bar.
    form = forms.ProfileForm(request.POST or None, request.FILES or None, instance=copy.copy(request.user))
    if request.method == "POST":
        if form.is_valid():
            try:
                with transaction.atomic():
                    services.update_profile(user=request.user, **form.profile_data())
                    if form.cleaned_data["remove_avatar"]:
                        services.remove_avatar(user=request.user)
                    elif form.cleaned_data.get("avatar"):
                        services.set_avatar(user=request.user, upload=form.cleaned_data["avatar"])
            except ValidationError as error:
                request.user.refresh_from_db()
                if not hasattr(error, "error_dict"):
                    error = ValidationError({"avatar": error.messages})
                _apply_errors(form, error)
            else:
                messages.success(request, "Your profile has been saved.")
                return redirect(request.user.get_absolute_url())
        return render(request, "accounts/profile_edit.html", _with_study_options({"form": form}), status=400)
    notification_services.mark_read_for_subject(user=request.user, subject=reverse("accounts:profile_edit"))
    return render(request, "accounts/profile_edit.html", _with_study_options({"form": form}))


# --- Passwords -------------------------------------------------------------------------------


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordChangeForm(request.user, request.POST or None, request=request)
    if request.method == "POST":
        if form.is_valid():
            try:
                # One transaction: the live sockets close (after commit) once this session
                # holds the new password's hash.
                with transaction.atomic():
                    services.change_password(user=request.user, new_password=form.cleaned_data["new_password1"])
                    update_session_auth_hash(request, request.user)
            except ValidationError as error:
                form.add_error("new_password1", error.messages)
            else:
                # This session stays signed in; every other session and API token is revoked.
                messages.success(
                    request, "Your password has been changed. Other devices and apps have been signed out."
                )
                return redirect(request.user.get_absolute_url())
        return render(request, "accounts/password_change.html", {"form": form}, status=400)
    return render(request, "accounts/password_change.html", {"form": form})


def _reset_address_key(group: str, request: HttpRequest) -> str:
    return request.POST.get("email", "").strip().casefold()


RESET_UNAVAILABLE_MESSAGE = "Resetting a password is unavailable for a moment. Please try again in a minute."


def _reset_rate_limited(request: HttpRequest) -> bool:
    """Count this reset against both limits; Unavailable (a 503 page) while the cache is down
    (accounts.ratelimits: the reset limit fails closed)."""
    limited = False
    for group, key in (
        ("accounts.password_reset.ip", ratelimits.client_address),
        ("accounts.password_reset.address", _reset_address_key),
    ):
        usage = ratelimits.count_attempt(
            request,
            group=group,
            key=key,
            rate=settings.RATELIMIT_PASSWORD_RESET,
            unavailable_message=RESET_UNAVAILABLE_MESSAGE,
        )
        limited = limited or bool(usage and usage["should_limit"])
    return limited


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link. The answer never says whether the address has an account; over
    the rate limit (per client address and per e-mail address) it is the same answer, but
    nothing is sent."""
    form = forms.PasswordResetForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            if _reset_rate_limited(request):
                logger.warning("password reset rate limit reached; nothing sent")
            else:
                services.request_password_reset(email=form.cleaned_data["email"])
            return HttpResponseRedirect(reverse("accounts:password_reset_done"))
        return render(request, "accounts/password_reset_form.html", {"form": form}, status=400)
    # Where "Your password was changed" leads a signed-in user: its notification is read.
    notification_services.mark_read_for_subject(user=request.user, subject=reverse("accounts:password_reset"))
    return render(request, "accounts/password_reset_form.html", {"form": form})


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's single-use, expiring token check; the new password goes through the service
    (so API tokens are revoked and the user is told), and a bad link answers 400."""

    form_class = forms.SetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    post_reset_login = False

    def form_valid(self, form):
        try:
            services.change_password(user=form.user, new_password=form.cleaned_data["new_password1"])
        except ValidationError as error:
            form.add_error("new_password1", error.messages)
            return self.form_invalid(form)
        services.confirm_mailbox_by_password_reset(user=form.user)
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def render_to_response(self, context, **response_kwargs):
        if not getattr(self, "validlink", False):
            response_kwargs["status"] = 400
        return super().render_to_response(context, **response_kwargs)


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- The account's e-mail address: confirmation and change -------------------------------------


@sensitive_post_parameters("current_password")
@login_required
@require_http_methods(["GET", "POST"])
def email_settings(request: HttpRequest) -> HttpResponse:
    """The login address: whether it is confirmed (and the link again), a pending change (and
    cancelling it), and the form to change it (new address + current password)."""
    form = forms.EmailChangeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.request_email_change(
                    request=request,
                    user=request.user,
                    new_email=form.cleaned_data["email"],
                    current_password=form.cleaned_data["current_password"],
                )
            except ValidationError as error:  # the new address, refused
                _apply_errors(form, error)
            except services.AccountRefusal as refusal:  # the current password
                add_refusal_to_form(form, refusal)
            else:
                messages.success(
                    request,
                    f"We sent a link to {services.normalize_email(form.cleaned_data['email'])}. Your login address "
                    "changes when you follow it; until then you log in as before.",
                )
                return redirect("accounts:email")
        status = 400
    request.user.refresh_from_db(fields=["email", "pending_email", "email_verified_at"])
    # The address and its state are shown: "confirm your address" notices are read.
    notification_services.mark_read_for_subject(user=request.user, subject=reverse("accounts:email"))
    return render(request, "accounts/email.html", {"form": form}, status=status)


@login_required
@require_POST
def email_change_cancel(request: HttpRequest) -> HttpResponse:
    services.cancel_email_change(user=request.user)
    messages.info(request, "The change of address is cancelled; its link no longer works.")
    return redirect("accounts:email")


@login_required
@require_POST
def email_verification_resend(request: HttpRequest) -> HttpResponse:
    services.send_verification_email(user=request.user)  # a refusal: config.middleware.RefusalMiddleware
    messages.success(request, f"We sent a new link to {request.user.email}.")
    return redirect("accounts:email")


@never_cache
@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """A confirmation link. GET only shows what it will do and asks to confirm (mail scanners
    open links; a GET must not use up a single-use link); POST does it."""
    try:
        claim = services.confirm_email(token=token) if request.method == "POST" else services.email_claim(token=token)
    except services.AccountRefusal as refusal:  # the link's own page says why
        return render(request, "accounts/email_confirm.html", {"error": refusal.message}, status=refusal.status)
    if request.method == "GET":
        return render(request, "accounts/email_confirm.html", {"claim": claim, "token": token})
    if claim.purpose == "change":
        messages.success(request, f"Done: you now log in with {claim.email}.")
    else:
        messages.success(request, "Thank you: your e-mail address is confirmed.")
    if request.user.is_authenticated:
        return redirect("accounts:email" if request.user.pk == claim.user.pk else "home")
    return redirect("accounts:login")


# --- Privacy: download my data, delete my account, restore it ---------------------------------

RESTORE_SESSION_KEY = "accounts.restore_candidate"
RESTORE_OFFER_SECONDS = 600
ERASE_AFTER_SESSION_KEY = "accounts.erase_after"


def _privacy_page(request: HttpRequest, form: forms.AccountDeletionForm, *, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "exports": selectors.data_exports_for(user=request.user),
        "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
        "link_hours": settings.ACCOUNT_EXPORT_LINK_HOURS,
    }
    return render(request, "accounts/privacy.html", context, status=status)


@login_required
@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    """Your data and your account: download everything, or delete the account."""
    notification_services.mark_read_for_subject(user=request.user, subject=reverse("accounts:privacy"))
    return _privacy_page(request, forms.AccountDeletionForm())


@login_required
@require_POST
def data_export_request(request: HttpRequest) -> HttpResponse:
    export = data_export.request_data_export(user=request.user)  # a refusal: config.middleware
    export.refresh_from_db(fields=["status"])  # eager Celery (the embedded default) built it already
    if export.status == DataExport.Status.READY:
        messages.success(request, "Your data is ready: download it below. We sent you the link by e-mail too.")
    else:
        messages.success(request, "We are preparing your data. We will tell you here and by e-mail when it is ready.")
    return redirect("accounts:privacy")


def data_export_response(export: DataExport) -> FileResponse:
    """The zip of one export, as a download that no cache keeps (the page and the API)."""
    day = (export.ready_at or export.requested_at).strftime("%Y-%m-%d")
    response = FileResponse(
        export.file.open("rb"), as_attachment=True, filename=f"lyceum-data-{day}.zip", content_type="application/zip"
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def data_export_download(request: HttpRequest, export_id) -> HttpResponse:
    try:
        export = selectors.downloadable_export(user=request.user, export_id=export_id)
    except DataExport.DoesNotExist:
        raise Http404("No such export.") from None
    return data_export_response(export)


@sensitive_post_parameters("current_password")
@login_required
@require_POST
def account_delete(request: HttpRequest) -> HttpResponse:
    form = forms.AccountDeletionForm(request.POST)
    if not form.is_valid():
        return _privacy_page(request, form, status=400)
    try:
        user = deletion.request_account_deletion(
            request=request, user=request.user, password=form.cleaned_data["current_password"]
        )
    except services.AccountRefusal as refusal:
        add_refusal_to_form(form, refusal)
        return _privacy_page(request, form, status=400)
    erase_after = deletion.erase_after(user)
    services.log_out(request=request)
    request.session[ERASE_AFTER_SESSION_KEY] = erase_after.isoformat() if erase_after else ""
    return redirect("accounts:deleted")


@never_cache
@require_GET
def account_deleted(request: HttpRequest) -> HttpResponse:
    """Where a deleted account lands, signed out: what happens next and how to change one's mind."""
    erase_after = parse_datetime(request.session.get(ERASE_AFTER_SESSION_KEY) or "")
    return render(
        request,
        "accounts/account_deleted.html",
        {"erase_after": erase_after, "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS},
    )


def remember_restore_candidate(request: HttpRequest, user) -> None:
    request.session[RESTORE_SESSION_KEY] = {
        "user": user.pk,
        "hash": user.get_session_auth_hash(),
        "at": int(time.time()),
    }


def _restore_candidate(request: HttpRequest):
    claim = request.session.get(RESTORE_SESSION_KEY)
    if not isinstance(claim, dict) or time.time() - claim.get("at", 0) > RESTORE_OFFER_SECONDS:
        return None
    return deletion.restore_candidate(user_id=claim.get("user"), auth_hash=claim.get("hash", ""))


@never_cache
@require_http_methods(["GET", "POST"])
def account_restore(request: HttpRequest) -> HttpResponse:
    """Offered right after signing in with the password of an account closed for deletion (the
    login page remembers it in the session for ten minutes): restore it, or leave it closed."""
    user = _restore_candidate(request)
    if user is None:
        request.session.pop(RESTORE_SESSION_KEY, None)
        return redirect("accounts:login")
    if request.method == "GET":
        return render(
            request, "accounts/account_restore.html", {"candidate": user, "erase_after": deletion.erase_after(user)}
        )
    try:
        user = deletion.restore_account(user=user)
    except services.AccountRefusal as refusal:  # the restore offer is spent: back to the login
        request.session.pop(RESTORE_SESSION_KEY, None)
        tell(request, refusal)
        return redirect("accounts:login")
    request.session.pop(RESTORE_SESSION_KEY, None)
    login(request, user, backend=LOGIN_BACKEND)
    messages.success(request, f"Welcome back, {user.first_name}: your account is restored and will not be deleted.")
    return redirect("accounts:privacy")
