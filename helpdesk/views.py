"""The help-desk pages (namespace "helpdesk", mounted at /help/).

Adapters: parse, call one service or selector, render or redirect. Actions are POST forms that
work without JavaScript (message + redirect to the request page); a refused action shows its
reason as a message and changes nothing. Requests and documents the user may not see are 404,
exactly as ids that do not exist.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import get_valid_filename
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.refusals import add_refusal_to_form, tell
from config.timezones import active_zone_name
from experts import selectors as expert_selectors
from experts.models import ExpertProfile
from helpdesk import documents, resubmission, selectors, services
from helpdesk.forms import (
    CancelForm,
    HelpRequestForm,
    MeetingLinkForm,
    QueueFilterForm,
    RatingForm,
    ReleaseForm,
    SessionTimeForm,
    SlotFormSet,
)
from helpdesk.models import HelpDocument, HelpRequest, MeetingState
from notifications import services as notification_services

PAGE_SIZE = 20
# Slot rows shown at once on the request form; the rest (up to MAX_SLOTS) behind "More times".
SHOWN_SLOT_ROWS = 2


def _page(request: HttpRequest, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _visible_or_404(request: HttpRequest, public_id) -> HelpRequest:
    try:
        return selectors.request_detail_for(user=request.user, request_id=public_id)
    except HelpRequest.DoesNotExist:
        raise Http404("No such help request.") from None


def _duration_minutes(help_request: HelpRequest) -> int:
    if help_request.scheduled_start and help_request.scheduled_end:
        minutes = int((help_request.scheduled_end - help_request.scheduled_start).total_seconds() // 60)
        if minutes in dict(SessionTimeForm.base_fields["duration"].choices):
            return minutes
    return 60


def _input_refused(request: HttpRequest, error: ValidationError) -> None:
    """A refused input of an action without a form to re-render (the session time), shown on
    the next page. A rule's refusal (HelpdeskRefusal) goes to config.middleware.RefusalMiddleware,
    which shows it and goes back to the page the action was on."""
    messages.error(request, " ".join(error.messages))


def _to_detail(public_id) -> HttpResponse:
    return redirect("helpdesk:detail", public_id=public_id)


# --- requester pages ------------------------------------------------------------------------


@login_required
@require_GET
def my_requests(request: HttpRequest) -> HttpResponse:
    page_obj = _page(request, selectors.my_requests(user=request.user))
    return render(request, "helpdesk/my_requests.html", {"page_obj": page_obj})


@login_required
@require_http_methods(["GET", "POST"])
def new_request(request: HttpRequest) -> HttpResponse:
    return _request_form(request, categories=list(expert_selectors.active_categories()))


@login_required
@require_http_methods(["GET", "POST"])
def submit_again(request: HttpRequest, public_id) -> HttpResponse:
    """ "Submit it again": the request form prefilled from the requester's expired or cancelled
    request (its slots moved to the future or left out, its documents kept unless unticked)."""
    try:
        previous = selectors.resubmittable_for(user=request.user, request_id=public_id)
    except HelpRequest.DoesNotExist:
        raise Http404("No such help request.") from None
    again = selectors.request_page_for(user=request.user, help_request=previous)
    if "submit_again" not in again.actions:
        resubmitted = selectors.resubmitted_as(previous)
        if resubmitted is not None:
            messages.info(request, "This request was already submitted again: here it is.")
            return _to_detail(resubmitted.public_id)
        messages.error(request, "Only an expired or cancelled request can be submitted again.")
        return _to_detail(previous.public_id)
    prefill = resubmission.prefill_from(previous)
    return _request_form(
        request,
        categories=list(expert_selectors.active_categories()),
        previous=previous,
        prefill=prefill,
    )


@login_required
@require_http_methods(["GET", "POST"])
def ask_expert(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Ask <name> for help": the request form addressed to one expert, who sees it first."""
    try:
        profile = selectors.askable_expert(asker=request.user, profile_id=pk)
    except ExpertProfile.DoesNotExist:
        raise Http404("No such expert.") from None
    if profile.user_id == request.user.pk:
        messages.error(request, "You cannot ask yourself for help.")
        return redirect("experts:detail", pk=pk)
    return _request_form(request, categories=list(profile.categories.all()), direct_profile=profile)


def _request_form(
    request: HttpRequest, *, categories, previous: HelpRequest | None = None, prefill=None, direct_profile=None
) -> HttpResponse:
    kept_documents = list(selectors.documents_for(help_request=previous)) if previous is not None else []
    initial = prefill.initial if prefill is not None else {}
    if direct_profile is not None and len(categories) == 1:
        initial = {**initial, "category": categories[0].pk}
    form = HelpRequestForm(
        request.POST or None,
        request.FILES or None,
        categories=categories,
        kept_documents=kept_documents,
        initial=initial,
    )
    slot_formset = SlotFormSet(
        request.POST or None, prefix="slots", initial=prefill.slots if prefill is not None else None
    )
    if request.method == "POST" and form.is_valid() and slot_formset.is_valid():
        try:
            help_request = services.submit_help_request(
                requester=request.user,
                category_id=form.cleaned_data["category"],
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                slots=slot_formset.filled(),
                times_note=form.cleaned_data["times_note"],
                files=request.FILES.getlist("files"),
                resubmit_of=previous.public_id if previous is not None else None,
                keep_documents=form.cleaned_data.get("keep_documents") or (),
                direct_expert_profile_id=direct_profile.pk if direct_profile is not None else None,
            )
        except HelpRequest.DoesNotExist:
            raise Http404("No such help request.") from None
        except ExpertProfile.DoesNotExist:
            raise Http404("No such expert.") from None
        except services.HelpdeskRefusal as refusal:  # of the whole request (an unconfirmed address)
            add_refusal_to_form(form, refusal)
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                form.add_error(None, error.messages)
            else:
                for field, field_errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, field_errors)
        else:
            if direct_profile is not None:
                messages.success(
                    request,
                    f"Your request went to {direct_profile.user.get_full_name()}. If they do not accept it within "
                    f"{services.window_text(services.direct_window())}, every expert of the subject sees it.",
                )
            else:
                messages.success(request, "Your request is in the queue. Experts in its subject can see it now.")
            return _to_detail(help_request.public_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "helpdesk/new_request.html",
        {
            "form": form,
            "slot_formset": slot_formset,
            "shown_slots": SHOWN_SLOT_ROWS,
            "zone_name": active_zone_name(),
            "categories": categories,
            "max_files": documents.MAX_FILES,
            "previous": previous,
            "prefill": prefill,
            "direct_profile": direct_profile,
            "direct_window": services.window_text(services.direct_window()),
        },
        status=status,
    )


@login_required
@require_GET
def request_detail(request: HttpRequest, public_id) -> HttpResponse:
    help_request = _visible_or_404(request, public_id)
    user = request.user
    page = selectors.request_page_for(user=user, help_request=help_request)
    notification_services.mark_read_for_subject(user=user, subject=help_request)
    slots = page.slots
    context = {
        "help_request": help_request,
        "page": page,
        "actions": page.actions,
        "stage": page.stage,
        "slots": slots,
        "session_in_slot": page.session_in_slot,
        "timeline": page.timeline,
        "documents": selectors.documents_for(help_request=help_request),
        "is_requester": page.is_requester,
        "is_expert": page.is_expert,
        "can_download": selectors.can_download(user=user, help_request=help_request),
        "rating": page.rating,
        "accept_form": SessionTimeForm(slots=slots, prefix="accept"),
        "schedule_form": SessionTimeForm(slots=slots),
        "reschedule_form": SessionTimeForm(
            slots=slots,
            prefix="move",
            initial={
                "choice": "other",
                "start": help_request.scheduled_start and timezone.localtime(help_request.scheduled_start),
                "duration": _duration_minutes(help_request),
            },
        ),
        "release_form": ReleaseForm(),
        "cancel_form": CancelForm(),
        "link_form": MeetingLinkForm(),
        "rating_form": RatingForm(),
        "zone_name": active_zone_name(),
        "now": timezone.now(),
        "MeetingState": MeetingState,
    }
    return render(request, "helpdesk/detail.html", context)


@login_required
@require_POST
def cancel(request: HttpRequest, public_id) -> HttpResponse:
    form = CancelForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.cancel_help_request(requester=request.user, request_id=public_id, note=note)
    except HelpRequest.DoesNotExist:
        raise Http404("No such help request.") from None
    messages.success(request, "Your request is cancelled.")
    return _to_detail(public_id)


@login_required
@require_POST
def rate(request: HttpRequest, public_id) -> HttpResponse:
    form = RatingForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose 1 to 5 stars (feedback is optional, at most 2,000 characters).")
        return _to_detail(public_id)
    try:
        services.rate_help_request(
            requester=request.user,
            request_id=public_id,
            stars=form.cleaned_data["stars"],
            feedback=form.cleaned_data["feedback"],
        )
    except HelpRequest.DoesNotExist:
        raise Http404("No such help request.") from None
    except ValidationError as error:  # the stars, refused
        _input_refused(request, error)
    else:
        messages.success(request, "Thank you for rating your session.")
    return _to_detail(public_id)


@login_required
@require_GET
def download_document(request: HttpRequest, public_id, document_id) -> HttpResponse:
    """The plaintext, decrypted on the fly, always as an attachment (never rendered inline)."""
    try:
        document = selectors.document_for(user=request.user, request_id=public_id, document_id=document_id)
    except HelpDocument.DoesNotExist:
        raise Http404("No such document.") from None
    response = HttpResponse(documents.read_plaintext(document), content_type=document.content_type)
    filename = get_valid_filename(document.original_name) or "document"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- expert pages ------------------------------------------------------------------------------


def _queue_context(request: HttpRequest) -> dict:
    categories = list(selectors.expert_categories(expert_user=request.user))
    form = QueueFilterForm(request.GET or None, categories=categories)
    category_slug, q = None, ""
    if form.is_valid():
        category_slug = form.cleaned_data["category"] or None
        q = form.cleaned_data["q"]
    page_obj = selectors.queue_page(
        expert_user=request.user,
        category_slug=category_slug,
        q=q,
        page_number=request.GET.get("page"),
        per_page=PAGE_SIZE,
    )
    return {
        "form": form,
        "categories": categories,
        "page_obj": page_obj,
        "filtered": bool(category_slug or q),
    }


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    if not expert_selectors.is_verified_expert(user=request.user):
        return render(request, "helpdesk/not_an_expert.html", status=403)
    context = _queue_context(request)
    if request.headers.get("HX-Request") == "true" and request.GET.get("fragment") == "list":
        return render(request, "helpdesk/partials/queue_list.html", context)
    return render(request, "helpdesk/queue.html", context)


@login_required
@require_GET
def queue_row(request: HttpRequest, public_id) -> HttpResponse:
    """One row for the live queue (htmx); 404 when it does not belong in this expert's queue."""
    try:
        help_request = selectors.queue_row_for(expert_user=request.user, request_id=public_id)
    except HelpRequest.DoesNotExist:
        raise Http404("Not in your queue.") from None
    return render(request, "helpdesk/partials/queue_row.html", {"item": help_request})


@login_required
@require_GET
def assigned(request: HttpRequest) -> HttpResponse:
    page_obj = _page(request, selectors.expert_requests(expert_user=request.user))
    return render(request, "helpdesk/assigned.html", {"page_obj": page_obj})


def _expert_action(request: HttpRequest, public_id, action, success: str, **kwargs) -> HttpResponse:
    try:
        action(expert=request.user, request_id=public_id, **kwargs)
    except HelpRequest.DoesNotExist:
        raise Http404("No such help request.") from None
    except services.HelpdeskRefusal as refusal:
        # Where the expert goes next depends on why: a request taken by someone else leaves
        # the queue, and one who is no longer an expert has no request pages.
        tell(request, refusal)
        if refusal.code == "not_open":
            return redirect("helpdesk:queue")
        if refusal.code == "not_verified":
            return redirect("experts:mine")
    except ValidationError as error:  # the session time, refused
        _input_refused(request, error)
    else:
        messages.success(request, success)
    return _to_detail(public_id)


@login_required
@require_POST
def accept(request: HttpRequest, public_id) -> HttpResponse:
    """Accept and schedule in one step: the session time is part of accepting (one of the
    requester's slots or another time), so the meeting link reaches the requester at once."""
    help_request = _visible_or_404(request, public_id)
    form = SessionTimeForm(request.POST, slots=selectors.slots_for(help_request=help_request), prefix="accept")
    if not form.is_valid():
        messages.error(request, _form_problem(form, "Choose one of the requester's times, or propose another."))
        return _to_detail(public_id)
    return _expert_action(
        request,
        public_id,
        services.accept_help_request,
        "You accepted the request and scheduled the session. The meeting is being created.",
        start=form.cleaned_data["start"],
        end=form.cleaned_data["end"],
    )


def _form_problem(form, fallback: str) -> str:
    """A refused time form's own words (e.g. "That time is 30 minutes long: …"), else the fallback."""
    problems = [message for errors in form.errors.values() for message in errors]
    return " ".join(problems) if problems else fallback


@login_required
@require_POST
def decline(request: HttpRequest, public_id) -> HttpResponse:
    """The expert asked directly passes the request on to the category's queue."""
    form = CancelForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.decline_direct_request(expert=request.user, request_id=public_id, note=note)
    except HelpRequest.DoesNotExist:
        raise Http404("No such help request.") from None
    messages.success(request, "You passed the request on: every expert of the subject sees it now.")
    return redirect("helpdesk:queue")


@login_required
@require_GET
def chat_card(request: HttpRequest, public_id) -> HttpResponse:
    """The request's card as pinned in the chat, for its live refresh (requester and expert only)."""
    try:
        card = selectors.card_for_viewer(user=request.user, request_id=public_id)
    except HelpRequest.DoesNotExist:
        raise Http404("No such help request.") from None
    return render(request, "helpdesk/partials/chat_card.html", {"card": card, "zone_name": active_zone_name()})


def chat_pins(*, user, conversation, other) -> list[SafeString]:
    """chat.pins provider: the card of the request a direct conversation is about, if any."""
    help_request = selectors.card_request_between(user=user, other=other)
    if help_request is None:
        return []
    card = selectors.request_card_for(user=user, help_request=help_request)
    context = {"card": card, "zone_name": active_zone_name(), "user": user}
    return [mark_safe(render_to_string("helpdesk/partials/chat_card.html", context))]


@login_required
@require_POST
def release(request: HttpRequest, public_id) -> HttpResponse:
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Tell the requester in a few words why you give the request back.")
        return _to_detail(public_id)
    return _expert_action(
        request,
        public_id,
        services.release_help_request,
        "The request is back in the queue.",
        note=form.cleaned_data["note"],
    )


def _session_time_action(request: HttpRequest, public_id, service, *, prefix: str | None, error: str, done: str):
    """Schedule or move a session: a slot or another time, and a duration, then the service."""
    slots = selectors.slots_for_action(user=request.user, public_id=public_id)
    form = SessionTimeForm(request.POST, slots=slots, prefix=prefix)
    if not form.is_valid():
        messages.error(request, _form_problem(form, error))
        return _to_detail(public_id)
    return _expert_action(
        request, public_id, service, done, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
    )


@login_required
@require_POST
def schedule(request: HttpRequest, public_id) -> HttpResponse:
    return _session_time_action(
        request,
        public_id,
        services.schedule_session,
        prefix=None,
        error="Choose a date and time, and a duration.",
        done="Session scheduled. The meeting is being created.",
    )


@login_required
@require_POST
def reschedule(request: HttpRequest, public_id) -> HttpResponse:
    return _session_time_action(
        request,
        public_id,
        services.reschedule_session,
        prefix="move",
        error="Choose the new date and time, and a duration.",
        done="Session moved. The requester is told, with an updated invitation.",
    )


@login_required
@require_POST
def meeting_link(request: HttpRequest, public_id) -> HttpResponse:
    form = MeetingLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Paste a full https:// meeting link.")
        return _to_detail(public_id)
    return _expert_action(
        request, public_id, services.set_manual_meeting_link, "Meeting link saved.", url=form.cleaned_data["url"]
    )


@login_required
@require_POST
def complete(request: HttpRequest, public_id) -> HttpResponse:
    return _expert_action(request, public_id, services.complete_help_request, "Marked as completed. Thank you!")


@login_required
@require_GET
def meet(request: HttpRequest, meeting_id) -> HttpResponse:
    """The local provider's meeting room (development): only the requester and the expert."""
    try:
        help_request = selectors.meeting_page_for(user=request.user, meeting_id=meeting_id)
    except HelpRequest.DoesNotExist:
        raise Http404("No such meeting.") from None
    return render(
        request,
        "helpdesk/meet.html",
        {"help_request": help_request, "detail_url": reverse("helpdesk:detail", args=[help_request.public_id])},
    )
