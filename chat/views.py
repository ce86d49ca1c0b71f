"""The chat pages: conversation list, a conversation, groups, message requests, search.

Adapters: parse, call one service or selector, render or redirect. Every action is a plain
POST form that works without JavaScript; with JavaScript the conversation page sends over the
live socket instead (static/js/chat.js). Someone else's conversation or message is a 404.
"""

import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from chat import attachments, pins, realtime, selectors, services
from chat.emoji import EMOJI
from chat.forms import (
    AddMembersForm,
    EditMessageForm,
    GroupForm,
    MessageForm,
    ReactionForm,
    RenameForm,
    ReportConversationForm,
    SearchForm,
)
from chat.models import Attachment, Conversation, Message
from chat.services import ChatError
from config import inputs
from config.refusals import Refusal, add_refusal_to_form
from notifications import services as notification_services
from social import selectors as social_selectors


def chat_view(view):
    """Login required; what the user cannot see is a 404, never a 500 (chat.access raises
    Conversation.DoesNotExist for a conversation the user is not an active member of)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (Conversation.DoesNotExist, Message.DoesNotExist, Attachment.DoesNotExist):
            raise Http404("No such conversation.") from None

    return wrapper


def _to_conversation(pk: int) -> HttpResponse:
    return redirect("chat:conversation", pk=pk)


def _seq(value: str | None) -> int | None:
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is None or number >= 0 else None


def _person_or_404(public_id):
    person = social_selectors.active_person(public_id=public_id)
    if person is None:
        raise Http404("No such student.")
    return person


# --- The chat app: the list left, a pane right (one of them at a time on a phone) ---------------

LIST_TITLES = {"chats": "Chats", "requests": "Message requests", "archived": "Archived chats"}


def _wants_pane(request: HttpRequest) -> bool:
    """static/js/chat/shell.js asks for the right pane alone (?pane=1) to swap it in."""
    return request.GET.get("pane") == "1"


def _list_context(request: HttpRequest, tab: str) -> dict:
    rows = selectors.list_conversations_for(user=request.user, requests=tab == "requests", archived=tab == "archived")
    if tab == "requests":
        request_count = len(rows)
    else:
        request_count = len(selectors.list_conversations_for(user=request.user, requests=True))
    return {"tab": tab, "rows": rows, "request_count": request_count}


def _shell(
    request: HttpRequest, *, view: str, pane_template: str, title: str, tab: str = "chats", status: int = 200, **pane
) -> HttpResponse:
    """A chat screen: the whole app page, or only its right pane (`?pane=1`)."""
    context = {"view": view, "pane_template": pane_template, "pane_title": title, **pane}
    if _wants_pane(request):
        return render(request, "chat/pane.html", context, status=status)
    context.update(_list_context(request, tab))
    return render(request, "chat/shell.html", context, status=status)


def _list_page(request: HttpRequest, *, tab: str) -> HttpResponse:
    # The placeholder pane invites to pick a conversation, or to start one when there is none.
    has_conversations = bool(selectors.list_conversations_for(user=request.user, limit=1))
    return _shell(
        request,
        view="list",
        pane_template="chat/_placeholder_pane.html",
        title=LIST_TITLES[tab],
        tab=tab,
        has_conversations=has_conversations,
    )


@chat_view
@require_GET
def conversation_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request, tab="chats")


@chat_view
@require_GET
def message_requests(request: HttpRequest) -> HttpResponse:
    notification_services.mark_read_for_subject(user=request.user, subject=reverse("chat:requests"))
    return _list_page(request, tab="requests")


@chat_view
@require_GET
def archived(request: HttpRequest) -> HttpResponse:
    return _list_page(request, tab="archived")


@chat_view
@require_GET
def new_message(request: HttpRequest) -> HttpResponse:
    """Pick a friend to write to: each is a POST to chat:direct, which opens (or starts) the 1-on-1."""
    query = request.GET.get("q", "").strip()[:100]
    friends = social_selectors.friends_of(user=request.user, q=query).order_by("first_name", "last_name", "pk")
    return _shell(
        request,
        view="new",
        pane_template="chat/_new_message_pane.html",
        title="New message",
        friends=list(friends[:FRIENDS_SHOWN]),
        query=query,
    )


FRIENDS_SHOWN = 200


@chat_view
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results = []
    if form.is_bound and form.is_valid():
        results = selectors.search_messages(user=request.user, q=form.cleaned_data["q"])
    return render(request, "chat/search.html", {"form": form, "results": results}, status=400 if form.errors else 200)


# --- Opening conversations -------------------------------------------------------------------


@chat_view
@require_http_methods(["GET", "POST"])
def direct(request: HttpRequest, public_id) -> HttpResponse:
    """The "Message" button of a person (a POST): open (or create) the direct conversation, go
    there. A GET changes nothing: it goes to the conversation when it is already open, and
    otherwise shows the button (a link followed, a page reloaded, a prefetch create nothing and
    do not re-accept a declined message request)."""
    other = _person_or_404(public_id)
    if request.method == "GET":
        existing = selectors.open_direct_conversation_with(user=request.user, other=other)
        if existing is not None:
            return _to_conversation(existing.pk)
        return render(request, "chat/direct.html", {"person": other})
    conversation = services.open_direct_conversation(user=request.user, other=other)
    return _to_conversation(conversation.pk)


@chat_view
@require_http_methods(["GET", "POST"])
def new_group(request: HttpRequest) -> HttpResponse:
    friends = social_selectors.friends_of(user=request.user)
    form = GroupForm(request.POST or None, friends=friends)
    if request.method == "POST" and form.is_valid():
        try:
            conversation = services.create_group(
                owner=request.user, name=form.cleaned_data["name"], members=list(form.cleaned_data["members"])
            )
        except ChatError as refusal:
            add_refusal_to_form(form, refusal)
        else:
            return _to_conversation(conversation.pk)
    status = 400 if form.errors else 200
    return render(request, "chat/new_group.html", {"form": form, "has_friends": friends.exists()}, status=status)


# --- A conversation --------------------------------------------------------------------------


def _composer(conversation_id: int, data=None, files=None, reply_to: int | None = None) -> MessageForm:
    initial = {"client_id": uuid.uuid4().hex, "reply_to": reply_to or ""}
    return MessageForm(data, files, initial=initial, auto_id=f"c{conversation_id}-%s")


def _reply_target(request: HttpRequest, pk: int, form: MessageForm | None) -> Message | None:
    """The message the composer answers: `?reply=<id>` (the Reply link without JavaScript) or
    the posted `reply_to` of a refused send. None when it names no message of this conversation."""
    raw = request.GET.get("reply") if form is None else form.data.get("reply_to")
    message_id = inputs.parse_id(raw) if raw else None
    if message_id is None:
        return None
    return selectors.reply_target(user=request.user, conversation_id=pk, message_id=message_id)


@chat_view
@require_GET
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    return _conversation_page(request, pk)


def _conversation_page(
    request: HttpRequest, pk: int, form: MessageForm | None = None, status: int = 200
) -> HttpResponse:
    summary = selectors.conversation_for(user=request.user, conversation_id=pk)
    first_unread = summary.first_unread_seq
    if first_unread and summary.unread > selectors.HISTORY_PAGE:
        page, more = selectors.messages_around(user=request.user, conversation_id=pk, seq=first_unread)
    else:
        page, more = selectors.history(
            user=request.user, conversation_id=pk, before_seq=_seq(request.GET.get("before"))
        )
    if summary.conversation.last_seq and request.GET.get("before") is None:
        # Opening the conversation reads it (without JavaScript too); the page still marks
        # where the unread messages began.
        services.mark_read(user=request.user, conversation_id=pk, seq=summary.conversation.last_seq)
    notification_services.mark_read_for_subject(user=request.user, subject=reverse("chat:conversation", args=[pk]))
    replying = _reply_target(request, pk, form)
    return _shell(
        request,
        view="conversation",
        pane_template="chat/_conversation_pane.html",
        title=summary.title,
        status=status,
        summary=summary,
        conversation=summary.conversation,
        page=page,
        more=more,
        newer=bool(page) and page[-1].seq < summary.conversation.last_seq,
        first_unread=first_unread,
        is_group=summary.conversation.is_group,
        form=form or _composer(pk, reply_to=replying.pk if replying else None),
        replying=replying,
        replying_quote=realtime.reply_excerpt(replying) if replying else "",
        emoji=EMOJI,
        accept_files=attachments.ACCEPT_ATTRIBUTE,
        max_files=attachments.max_files(),
        max_file_bytes=attachments.max_bytes(),
        pinned=pins.pinned_for(user=request.user, conversation=summary.conversation, other=summary.other),
    )


@chat_view
@require_GET
def messages_fragment(request: HttpRequest, pk: int) -> HttpResponse:
    """Older messages (`?before=seq`) or newer ones (`?after=seq`) as list items, for scrolling."""
    summary = selectors.conversation_for(user=request.user, conversation_id=pk)
    after = _seq(request.GET.get("after"))
    if after is not None:
        page, more = selectors.messages_since(user=request.user, conversation_id=pk, after_seq=after, limit=50)
    else:
        before = _seq(request.GET.get("before"))
        page, more = selectors.history(user=request.user, conversation_id=pk, before_seq=before)
    context = {
        "page": page,
        "more": more,
        "is_group": summary.conversation.is_group,
        "direction": "after" if after is not None else "before",
    }
    return render(request, "chat/_messages.html", context)


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


@chat_view
@require_POST
def send(request: HttpRequest, pk: int) -> HttpResponse:
    """The composer without JavaScript, and chat.js's upload of files (Accept: application/json
    → the stored message as JSON). The hidden client_id makes a resubmitted form harmless."""
    form = _composer(pk, request.POST, request.FILES)
    files = request.FILES.getlist("files")
    as_json = _wants_json(request)
    if not form.is_valid():
        if as_json:
            selectors.conversation_for(user=request.user, conversation_id=pk)
            return JsonResponse({"detail": "Check the message and try again.", "code": "invalid"}, status=400)
        return _conversation_page(request, pk, form=form, status=400)
    try:
        message, created = services.send_message(
            sender=request.user,
            conversation_id=pk,
            body=form.cleaned_data["body"],
            client_id=form.cleaned_data["client_id"],
            files=files,
            reply_to=form.cleaned_data["reply_to"] or None,
        )
    except ChatError as error:
        if as_json:
            raise  # config.middleware.RefusalMiddleware answers it as JSON
        status = 429 if error.code == "rate_limited" else 400
        form.add_error("body" if "body" in error.code else None, error.message)
        if error.code == "invalid_reply_to":  # the quote is gone from the composer: say why
            form.data = form.data.copy()
            form.data["reply_to"] = ""
        return _conversation_page(request, pk, form=form, status=status)
    if as_json:
        return JsonResponse({"message": realtime.message_payload(message)}, status=201 if created else 200)
    return redirect(reverse("chat:conversation", args=[pk]) + "#composer")


def _private_file(response: FileResponse, *, cache_seconds: int = 0) -> FileResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = f"private, max-age={cache_seconds}" if cache_seconds else "private, no-store"
    # Even if a browser rendered it, a file could run nothing and reach nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file, ALWAYS as a download (Content-Disposition: attachment), whatever its type."""
    response = FileResponse(
        attachment.file.open("rb"), as_attachment=True, filename=attachment.name, content_type=attachment.content_type
    )
    return _private_file(response)


def thumbnail_response(attachment: Attachment) -> FileResponse:
    """An image's thumbnail (a WEBP we encoded ourselves), inline so it can be shown."""
    if not attachment.is_image or not attachment.thumbnail:
        raise Attachment.DoesNotExist("No thumbnail.")
    response = FileResponse(attachment.thumbnail.open("rb"), content_type="image/webp")
    response["Content-Disposition"] = "inline"
    return _private_file(response, cache_seconds=3600)


def group_picture_response(conversation: Conversation) -> FileResponse:
    """A group's picture (a WEBP we encoded ourselves), inline; members only (the caller checks)."""
    if not conversation.is_group or not conversation.picture:
        raise Conversation.DoesNotExist("No picture.")
    response = FileResponse(conversation.picture.open("rb"), content_type="image/webp")
    response["Content-Disposition"] = "inline"
    return _private_file(response, cache_seconds=300)


@chat_view
@require_http_methods(["GET", "POST"])
def group_picture(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the picture (members only). POST: set it (`picture` file) or remove it (`remove`)."""
    summary = selectors.conversation_for(user=request.user, conversation_id=pk)
    if request.method == "GET":
        return group_picture_response(summary.conversation)
    upload = request.FILES.get("picture")
    if upload is None and "remove" not in request.POST:
        messages.error(request, "Choose an image for the group picture.")
        return redirect("chat:settings", pk=pk)
    done = "Group picture removed." if upload is None else "Group picture changed."
    return _settings_action(
        request, pk, lambda: services.set_group_picture(actor=request.user, conversation_id=pk, upload=upload), done
    )


@chat_view
@require_GET
def attachment_download(request: HttpRequest, attachment_id: int) -> HttpResponse:
    return attachment_response(selectors.attachment_for(user=request.user, attachment_id=attachment_id))


@chat_view
@require_GET
def attachment_thumbnail(request: HttpRequest, attachment_id: int) -> HttpResponse:
    return thumbnail_response(selectors.attachment_for(user=request.user, attachment_id=attachment_id))


@chat_view
@require_http_methods(["GET", "POST"])
def edit_message(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    message = selectors.message_for(user=request.user, message_id=message_id)
    if message.conversation_id != pk:
        raise Http404("No such message.")
    form = EditMessageForm(request.POST or None, initial={"body": message.body})
    if request.method == "POST" and form.is_valid():
        try:
            services.edit_message(user=request.user, message_id=message_id, body=form.cleaned_data["body"])
        except ChatError as refusal:
            add_refusal_to_form(form, refusal)
        else:
            return redirect(reverse("chat:conversation", args=[pk]) + f"#m-{message.seq}")
    elif request.method == "GET" and message.sender_id != request.user.pk:
        raise Http404("No such message.")
    return render(
        request, "chat/edit_message.html", {"form": form, "message": message}, status=400 if form.errors else 200
    )


@chat_view
@require_http_methods(["GET", "POST"])
def react(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    """GET: the emoji to react with (the page without JavaScript; with it, the picker opens in
    place). POST `emoji` (and `action` "remove" to take it off): toggles my reaction; with
    `Accept: application/json` answers the message as JSON (static/js/chat/conversation.js)."""
    message = selectors.message_for(user=request.user, message_id=message_id)
    if message.conversation_id != pk:
        raise Http404("No such message.")
    back = reverse("chat:conversation", args=[pk]) + f"#m-{message.seq}"
    if request.method == "GET":
        return render(request, "chat/react.html", {"message": message, "emoji": EMOJI, "back": back})
    form = ReactionForm(request.POST)
    as_json = _wants_json(request)
    if not form.is_valid():
        if as_json:
            return JsonResponse({"detail": "Pick one of the emoji offered.", "code": "invalid_emoji"}, status=400)
        messages.error(request, "Pick one of the emoji offered.")
        return redirect(back)
    # A refusal goes to config.middleware.RefusalMiddleware: JSON for the script, else a message.
    updated, _changed = services.set_reaction(
        user=request.user,
        message_id=message_id,
        emoji=form.cleaned_data["emoji"],
        on=form.cleaned_data["action"] != "remove",
    )
    if as_json:
        return JsonResponse({"message": realtime.message_payload(updated)})
    return redirect(back)


@chat_view
@require_POST
def delete_message(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    message = selectors.message_for(user=request.user, message_id=message_id)
    if message.conversation_id != pk:
        raise Http404("No such message.")
    services.delete_message(user=request.user, message_id=message_id)
    return redirect(reverse("chat:conversation", args=[pk]) + f"#m-{message.seq}")


# --- Group settings and membership actions ---------------------------------------------------


@chat_view
@require_GET
def group_settings(request: HttpRequest, pk: int) -> HttpResponse:
    summary = selectors.conversation_for(user=request.user, conversation_id=pk)
    if not summary.conversation.is_group:
        raise Http404("Direct conversations have no settings page.")
    member_ids = {m.user_id for m in summary.members}
    addable = social_selectors.friends_of(user=request.user).exclude(pk__in=member_ids)
    context = {
        "summary": summary,
        "conversation": summary.conversation,
        "rename_form": RenameForm(initial={"name": summary.conversation.name}),
        "add_form": AddMembersForm(friends=addable),
        "can_manage": summary.membership.can_manage,
    }
    return render(request, "chat/settings.html", context)


def _settings_action(request: HttpRequest, pk: int, action, done: str) -> HttpResponse:
    action()  # a refusal goes to config.middleware.RefusalMiddleware (the message, back)
    messages.success(request, done)
    return redirect("chat:settings", pk=pk)


@chat_view
@require_POST
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    form = RenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the group a name of at most 80 characters.")
        return redirect("chat:settings", pk=pk)
    name = form.cleaned_data["name"]
    return _settings_action(
        request, pk, lambda: services.rename_group(actor=request.user, conversation_id=pk, name=name), "Group renamed."
    )


@chat_view
@require_POST
def add_members(request: HttpRequest, pk: int) -> HttpResponse:
    form = AddMembersForm(request.POST, friends=social_selectors.friends_of(user=request.user))
    if not form.is_valid():
        messages.error(request, "Choose at least one of your friends.")
        return redirect("chat:settings", pk=pk)
    users = list(form.cleaned_data["members"])
    return _settings_action(
        request, pk, lambda: services.add_members(actor=request.user, conversation_id=pk, users=users), "Members added."
    )


@chat_view
@require_POST
def remove_member(request: HttpRequest, pk: int, public_id) -> HttpResponse:
    person = _person_or_404(public_id)
    return _settings_action(
        request,
        pk,
        lambda: services.remove_member(actor=request.user, conversation_id=pk, user=person),
        f"{person.get_full_name()} was removed.",
    )


@chat_view
@require_POST
def promote(request: HttpRequest, pk: int, public_id) -> HttpResponse:
    person = _person_or_404(public_id)
    return _settings_action(
        request,
        pk,
        lambda: services.promote_member(actor=request.user, conversation_id=pk, user=person),
        f"{person.get_full_name()} is an admin now.",
    )


@chat_view
@require_POST
def leave(request: HttpRequest, pk: int) -> HttpResponse:
    services.leave_group(user=request.user, conversation_id=pk)
    messages.success(request, "You left the group.")
    return redirect("chat:list")


@chat_view
@require_POST
def mute(request: HttpRequest, pk: int) -> HttpResponse:
    muted = request.POST.get("muted") == "1"
    services.set_muted(user=request.user, conversation_id=pk, muted=muted)
    messages.success(request, "Conversation muted." if muted else "Conversation unmuted.")
    return _to_conversation(pk)


@chat_view
@require_POST
def archive(request: HttpRequest, pk: int) -> HttpResponse:
    archived_now = request.POST.get("archived") == "1"
    services.set_archived(user=request.user, conversation_id=pk, archived=archived_now)
    messages.success(request, "Conversation archived." if archived_now else "Conversation moved back to your chats.")
    return redirect("chat:list")


@chat_view
@require_POST
def accept_request(request: HttpRequest, pk: int) -> HttpResponse:
    services.accept_message_request(user=request.user, conversation_id=pk)
    return _to_conversation(pk)


@chat_view
@require_POST
def decline_request(request: HttpRequest, pk: int) -> HttpResponse:
    services.decline_message_request(user=request.user, conversation_id=pk)
    messages.success(request, "Message request declined.")
    return redirect("chat:requests")


# --- Reporting from a conversation -------------------------------------------------------------

PRESELECTED_MESSAGES = 5


def _preselected(request: HttpRequest, picker: list[Message], reported: User | None) -> list[int]:
    """The messages ticked when the form opens: the one the report started from (?message=),
    else the reported person's newest few."""
    wanted = _seq(request.GET.get("message"))
    if wanted and any(message.pk == wanted for message in picker):
        return [wanted]
    if reported is None:
        return []
    theirs = [message.pk for message in picker if message.sender_id == reported.pk]
    return theirs[-PRESELECTED_MESSAGES:]


@chat_view
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, pk: int) -> HttpResponse:
    """Report someone of this conversation, with the messages the reporter picks (they are
    copied into the report: the only messages staff can read, docs/privacy.md)."""
    summary = selectors.conversation_for(user=request.user, conversation_id=pk)
    people = selectors.reportable_people(user=request.user, conversation_id=pk)
    picker = selectors.reportable_messages(user=request.user, conversation_id=pk)
    chosen = {str(person.public_id): person for person in people}.get(request.GET.get("user", ""))
    if chosen is None and summary.other is not None:
        chosen = summary.other
    initial = {"message_ids": _preselected(request, picker, chosen)}
    if chosen is not None:
        initial["reported"] = str(chosen.public_id)
    form = ReportConversationForm(request.POST or None, people=people, messages=picker, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.report_from_conversation(
                reporter=request.user,
                conversation_id=pk,
                reported=data["reported"],
                reason=data["reason"],
                details=data["details"],
                message_ids=data["message_ids"],
            )
        except Refusal as refusal:  # chat's own (ChatError) or the report's rules (SocialRefusal)
            add_refusal_to_form(form, refusal, fields={"messages": "message_ids"})
        else:
            count = len(data["message_ids"])
            messages.success(
                request,
                f"Thank you. Your report about {data['reported'].get_full_name()} is with our team"
                + (f", with {count} message{'s' if count != 1 else ''}." if count else ".")
                + " If you do not want to hear from them, you can also block them.",
            )
            return _to_conversation(pk)
    checked = {int(value) for value in (form["message_ids"].value() or []) if str(value).isdigit()}
    return render(
        request,
        "chat/report.html",
        {
            "summary": summary,
            "conversation": summary.conversation,
            "people": people,
            "picker": picker,
            "checked": checked,
            "form": form,
            "max_messages": services.REPORT_MESSAGES_MAX,
        },
        status=400 if form.errors else 200,
    )


@chat_view
@require_GET
def report_person(request: HttpRequest, public_id) -> HttpResponse:
    """The "Report" of a profile: from the direct conversation with them when there is one (so
    the report can carry its messages), else the plain report form."""
    person = _person_or_404(public_id)
    conversation = selectors.direct_conversation_with(user=request.user, other=person)
    if conversation is None:
        target = reverse("social:report", args=[person.public_id])
        return redirect(f"{target}?{request.GET.urlencode()}" if request.GET else target)
    return redirect(f"{reverse('chat:report', args=[conversation.pk])}?user={person.public_id}")
