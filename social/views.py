"""The people pages: directory, suggestions, requests, friends, blocks, reports.

Adapters: parse, call one service or selector, render. Every action is a plain POST form that
works without JavaScript (redirect with a message); with htmx (`HX-Request`) the same endpoint
answers with the fragment to swap in place: the person's action buttons, or the answered row of
a requests page (`fragment=request`).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.refusals import add_refusal_to_form, safe_next
from notifications import services as notification_services
from social import selectors, services
from social.forms import DirectorySearchForm, FriendRequestForm, FriendSearchForm, ReportForm
from social.models import Block, FriendRequest, Friendship

PAGE_SIZE = 20
SUGGESTIONS_ON_DIRECTORY = 6
SUGGESTIONS_PAGE = 24


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _person_or_404(public_id) -> object:
    person = selectors.active_person(public_id=public_id)
    if person is None:
        raise Http404("No such student.")
    return person


def _visible_person_or_404(request: HttpRequest, public_id):
    person = selectors.person_for(viewer=request.user, public_id=public_id)
    if person is None:
        raise Http404("No such student.")
    return person


def _page(request: HttpRequest, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _actions_fragment(request: HttpRequest, person, *, flash: str = "", error: str = "") -> HttpResponse:
    """The person's action buttons, re-rendered for an htmx swap. Errors answer 200 on purpose:
    htmx does not swap 4xx responses, and the message belongs where the button was."""
    # A fresh copy without list annotations: the partial looks the relationship up as it is now.
    person = selectors.active_person(public_id=person.public_id) or person
    context = {"person": person, "flash": flash, "error": error, "next": safe_next(request, "")}
    return render(request, "social/partials/relationship_actions.html", context)


def _done(request: HttpRequest, *, person, text: str, default_next: str, answered: str = "") -> HttpResponse:
    """Answer a successful action: a fragment for htmx, otherwise a message and a redirect."""
    if _is_htmx(request):
        if request.POST.get("fragment") == "request":
            return render(
                request, "social/partials/request_answered.html", {"person": person, "text": text, "answered": answered}
            )
        return _actions_fragment(request, person, flash=text)
    messages.success(request, text)
    return redirect(safe_next(request, default_next))


def _failed(request: HttpRequest, *, person, refusal: services.SocialRefusal) -> HttpResponse:
    """A refused action answered in place: the fragment for htmx (200, as in _actions_fragment),
    otherwise a page saying why with a way back. (These pages do not redirect a refusal through
    config.middleware.RefusalMiddleware: htmx swaps the fragment where the button was.)"""
    text = refusal.message
    if _is_htmx(request):
        if request.POST.get("fragment") == "request":
            return render(
                request, "social/partials/request_answered.html", {"person": person, "text": text, "error": True}
            )
        return _actions_fragment(request, person, error=text)
    back = safe_next(request, reverse("social:directory"))
    return render(request, "social/action_failed.html", {"text": text, "back": back}, status=refusal.status)


# --- Pages ----------------------------------------------------------------------------------


@login_required
@require_GET
def directory(request: HttpRequest) -> HttpResponse:
    form = DirectorySearchForm(request.GET or None)
    page_obj = None
    searched = False
    if form.is_bound and form.is_valid() and not form.is_empty():
        searched = True
        page_obj = _page(request, selectors.search_directory(viewer=request.user, **form.filters()))
    suggestions = [] if searched else selectors.people_you_may_know(user=request.user, limit=SUGGESTIONS_ON_DIRECTORY)
    context = {"form": form, "page_obj": page_obj, "searched": searched, "suggestions": suggestions}
    return render(request, "social/directory.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def suggestions(request: HttpRequest) -> HttpResponse:
    people = selectors.people_you_may_know(user=request.user, limit=SUGGESTIONS_PAGE)
    return render(request, "social/suggestions.html", {"people": people})


@login_required
@require_GET
def friends(request: HttpRequest) -> HttpResponse:
    form = FriendSearchForm(request.GET or None)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    page_obj = _page(request, selectors.friends_of(user=request.user, q=q))
    notification_services.mark_read_for_subject(user=request.user, subject=reverse("social:friends"))
    context = {"form": form, "page_obj": page_obj, "q": q}
    return render(request, "social/friends.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def requests_incoming(request: HttpRequest) -> HttpResponse:
    page_obj = _page(request, selectors.incoming_requests(user=request.user))
    # Seeing the requests is reading their notifications.
    services.mark_request_notifications_seen(user=request.user)
    return render(request, "social/requests_incoming.html", {"page_obj": page_obj})


@login_required
@require_GET
def requests_outgoing(request: HttpRequest) -> HttpResponse:
    page_obj = _page(request, selectors.outgoing_requests(user=request.user))
    return render(request, "social/requests_outgoing.html", {"page_obj": page_obj})


@login_required
@require_GET
def blocked(request: HttpRequest) -> HttpResponse:
    page_obj = _page(request, selectors.blocked_by(user=request.user))
    return render(request, "social/blocked.html", {"page_obj": page_obj})


# --- Friend requests --------------------------------------------------------------------------


@login_required
@require_GET
def profile(request: HttpRequest, public_id) -> HttpResponse:
    """A student's profile page. A block either way makes it a 404, as for an unknown student."""
    if public_id == request.user.public_id:
        return render(request, "accounts/profile.html", {"person": request.user, "is_me": True})
    person = _visible_person_or_404(request, public_id)
    return render(request, "accounts/profile.html", {"person": person, "is_me": False})


def _note_context(request: HttpRequest, person, form: FriendRequestForm) -> dict:
    return {"person": person, "form": form, "next": safe_next(request, "")}


@login_required
@require_http_methods(["GET", "POST"])
def send_request(request: HttpRequest, public_id) -> HttpResponse:
    """GET: a page to add a note (also the no-JS way). POST: send (or accept theirs)."""
    person = _visible_person_or_404(request, public_id)
    form = FriendRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "GET":
        return render(request, "social/send_request.html", _note_context(request, person, form))
    if not form.is_valid():
        if _is_htmx(request):
            return _actions_fragment(request, person, error=" ".join(form.errors.get("note", ["Check the note."])))
        return render(request, "social/send_request.html", _note_context(request, person, form), status=400)
    try:
        result = services.send_friend_request(from_user=request.user, to_user=person, note=form.cleaned_data["note"])
    except services.SocialRefusal as refusal:
        if not _is_htmx(request):
            add_refusal_to_form(form, refusal)
            return render(request, "social/send_request.html", _note_context(request, person, form), status=400)
        return _failed(request, person=person, refusal=refusal)
    name = person.get_full_name()
    text = f"You and {name} are now friends." if result.became_friends else f"Friend request sent to {name}."
    return _done(request, person=person, text=text, default_next=reverse("social:requests_outgoing"))


def _answer_request(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    # The other side of the request, for the fragment; the service does the access check.
    try:
        if action == "cancel":
            friend_request = services.cancel_friend_request(user=request.user, request_id=pk)
            person, text, default = friend_request.to_user, "Friend request cancelled.", "social:requests_outgoing"
        elif action == "accept":
            friend_request = services.accept_friend_request(user=request.user, request_id=pk)
            person = friend_request.from_user
            text, default = f"You and {person.get_full_name()} are now friends.", "social:friends"
        else:
            friend_request = services.decline_friend_request(user=request.user, request_id=pk)
            person, text, default = friend_request.from_user, "Friend request declined.", "social:requests_incoming"
    except FriendRequest.DoesNotExist:
        raise Http404("No such friend request.") from None
    except services.SocialRefusal as refusal:
        person = selectors.request_counterpart(user=request.user, request_id=pk)
        return _failed(request, person=person, refusal=refusal)
    return _done(request, person=person, text=text, default_next=reverse(default), answered=action)


@login_required
@require_POST
def cancel_request(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer_request(request, pk, "cancel")


@login_required
@require_POST
def accept_request(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer_request(request, pk, "accept")


@login_required
@require_POST
def decline_request(request: HttpRequest, pk: int) -> HttpResponse:
    return _answer_request(request, pk, "decline")


# --- Friends, blocks, reports -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def unfriend(request: HttpRequest, public_id) -> HttpResponse:
    """GET: confirm. POST: end the friendship."""
    person = _person_or_404(public_id)
    if request.method == "GET":
        if selectors.relationship_between(viewer=request.user, person=person).state != selectors.FRIEND:
            raise Http404("You are not friends.")
        return render(request, "social/unfriend_confirm.html", {"person": person, "next": safe_next(request, "")})
    try:
        services.unfriend(user=request.user, other=person)
    except Friendship.DoesNotExist:
        raise Http404("You are not friends.") from None
    text = f"You and {person.get_full_name()} are no longer friends."
    return _done(request, person=person, text=text, default_next=reverse("social:friends"))


@login_required
@require_http_methods(["GET", "POST"])
def block(request: HttpRequest, public_id) -> HttpResponse:
    """GET: explain and confirm. POST: block."""
    person = _person_or_404(public_id)
    if request.method == "GET":
        return render(request, "social/block_confirm.html", {"person": person, "next": safe_next(request, "")})
    try:
        services.block_user(blocker=request.user, blocked=person)
    except services.SocialRefusal as refusal:
        return _failed(request, person=person, refusal=refusal)
    text = f"You blocked {person.get_full_name()}. They can no longer find you or send you requests."
    return _done(request, person=person, text=text, default_next=reverse("social:blocked"))


@login_required
@require_POST
def unblock(request: HttpRequest, public_id) -> HttpResponse:
    person = selectors.person_blocked_by(viewer=request.user, public_id=public_id)
    if person is None:
        raise Http404("You have not blocked this student.")
    try:
        services.unblock_user(blocker=request.user, blocked=person)
    except Block.DoesNotExist:
        raise Http404("You have not blocked this student.") from None
    return _done(
        request, person=person, text=f"You unblocked {person.get_full_name()}.", default_next=reverse("social:blocked")
    )


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, public_id) -> HttpResponse:
    person = _person_or_404(public_id)
    form = ReportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.report_user(reporter=request.user, reported=person, **form.cleaned_data)
        except services.SocialRefusal as refusal:
            add_refusal_to_form(form, refusal)
        else:
            messages.success(
                request,
                f"Thank you. Your report about {person.get_full_name()} is with our team. "
                "If you do not want to hear from them, you can also block them.",
            )
            return redirect(safe_next(request, person.get_absolute_url()))
    context = _note_context(request, person, form)
    return render(request, "social/report.html", context, status=400 if form.errors else 200)
