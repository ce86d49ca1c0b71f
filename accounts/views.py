"""HTML views of the accounts app: parse a form, call a service, render or redirect."""

import copy
import logging
import math

from axes.helpers import get_client_ip_address, get_cool_off
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from accounts import forms, selectors, services

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


def lockout_message(request: HttpRequest | None = None) -> tuple[str, int]:
    cool_off = get_cool_off(request)
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else 0
    if not minutes:
        return "Too many failed attempts. This account is locked; contact support.", 0
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed attempts, try again in {minutes} {unit}.", minutes * 60


def lockout(request, original_response=None, credentials=None, *args, **kwargs) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a 429 page for the browser, JSON with `detail` for the API."""
    message, retry_after = lockout_message(request)
    if _is_api(request):
        response: HttpResponse = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "429.html", {"message": message, "title": "Too many attempts"}, status=429)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


# --- Register, log in, log out -------------------------------------------------------------


@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = forms.RegistrationForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                user = services.register_user(**form.registration_data())
            except ValidationError as error:
                _apply_errors(form, error)
            else:
                login(request, user, backend=LOGIN_BACKEND)
                messages.success(request, f"Welcome to Lyceum, {user.first_name}! Your account is ready.")
                return redirect("home")
        return render(request, "accounts/register.html", {"form": form}, status=400)
    return render(request, "accounts/register.html", {"form": form})


class LoginView(auth_views.LoginView):
    form_class = forms.LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"Welcome back, {form.get_user().first_name}!")
        return response

    def form_invalid(self, form):
        return self.render_to_response(self.get_context_data(form=form), status=400)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.log_out(request=request)
    messages.info(request, "You have been logged out. See you soon!")
    return redirect(settings.LOGOUT_REDIRECT_URL)


# --- Profile ---------------------------------------------------------------------------------


@login_required
def profile(request: HttpRequest, public_id) -> HttpResponse:
    person = selectors.profile_for(public_id=public_id)
    if person is None:
        raise Http404("No such student.")
    return render(request, "accounts/profile.html", {"person": person, "is_me": person.pk == request.user.pk})


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
        return render(request, "accounts/profile_edit.html", {"form": form}, status=400)
    return render(request, "accounts/profile_edit.html", {"form": form})


# --- Passwords -------------------------------------------------------------------------------


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordChangeForm(request.user, request.POST or None)
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


def _reset_ip_key(group: str, request: HttpRequest) -> str:
    # The same client address axes uses (it knows about the proxy in front).
    return get_client_ip_address(request) or "unknown"


def _reset_address_key(group: str, request: HttpRequest) -> str:
    return request.POST.get("email", "").strip().casefold()


def _reset_rate_limited(request: HttpRequest) -> bool:
    rate = settings.RATELIMIT_PASSWORD_RESET
    by_ip = is_ratelimited(
        request, group="accounts.password_reset.ip", key=_reset_ip_key, rate=rate, method="POST", increment=True
    )
    by_address = is_ratelimited(
        request,
        group="accounts.password_reset.address",
        key=_reset_address_key,
        rate=rate,
        method="POST",
        increment=True,
    )
    return by_ip or by_address


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
