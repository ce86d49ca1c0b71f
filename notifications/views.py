"""The notifications page, marking read, and e-mail preferences. Adapters: parse, call, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.refusals import on_this_site, safe_next
from notifications import selectors, services
from notifications.forms import EmailPreferencesForm
from notifications.models import Notification

PAGE_SIZE = 20


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_required
@require_GET
def notification_list(request):
    page = Paginator(selectors.notifications_for(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    response = render(request, "notifications/list.html", {"page_obj": page})
    # A notification without a link is its own subject: shown here (as new, this once), it is read.
    services.mark_read_for_subject(user=request.user, subject="")
    return response


@login_required
@require_POST
def mark_read(request, pk: int):
    try:
        notification = services.mark_read(user=request.user, notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    if _is_htmx(request):
        # The item, re-rendered as read, plus the navbar badge swapped out of band.
        return render(request, "notifications/_item_swap.html", {"notification": notification})
    return redirect(safe_next(request, reverse("notifications:list")))


@login_required
@require_http_methods(["GET", "POST"])
def open_notification(request, pk: int):
    """Follow a notification's link: it counts as read once opened (also the e-mail's link)."""
    try:
        notification = services.mark_read(user=request.user, notification_id=pk)
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None
    target = notification.url
    if not on_this_site(request, target):
        target = reverse("notifications:list")
    return redirect(target)


@login_required
@require_POST
def mark_all_read(request):
    changed = services.mark_all_read(user=request.user)
    if changed:
        messages.success(request, f"Marked {changed} notification{'s' if changed != 1 else ''} as read.")
    else:
        messages.info(request, "You had no unread notifications.")
    return redirect(safe_next(request, reverse("notifications:list")))


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    current = selectors.email_preferences_for(user=request.user)
    form = EmailPreferencesForm(request.POST if request.method == "POST" else None, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_email_preferences(user=request.user, kinds=form.chosen())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Your e-mail preferences are saved.")
            return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form}, status=400 if form.errors else 200)
