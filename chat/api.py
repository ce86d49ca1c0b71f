"""JSON API of the chat app, under /api/v1/chat/ (see api_urls.py).

Conversations and messages are named by id, people by `public_id`. A conversation or message
the caller cannot see is 404, exactly like one that does not exist. Refusals carry `detail`
and a stable `code`: 400 bad input, 403 not allowed, 409 the current state refuses, 429 too fast.
Sending is idempotent by `client_id`: a retry answers 200 with the stored message (201 when new).
"""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from chat import realtime, selectors, services
from chat.emoji import EMOJI
from chat.models import (
    BODY_MAX_LENGTH,
    CLIENT_ID_MAX_LENGTH,
    NAME_MAX_LENGTH,
    Attachment,
    Conversation,
    Membership,
    Message,
)
from chat.services.common import CLIENT_ID_RE
from chat.views import attachment_response, group_picture_response
from config.inputs import MAX_ID
from config.pagination import PagePagination
from config.schema import refusal_response
from config.timezones import api_timestamp
from notifications import services as notification_services

# --- Serializers --------------------------------------------------------------------------------


class ChatUserSerializer(serializers.Serializer):
    public_id = serializers.UUIDField(help_text="The user's one id, in the API and on the live socket.")
    name = serializers.CharField()
    initials = serializers.CharField()


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text='"image" (re-encoded, with a thumbnail) or "file".')
    name = serializers.CharField()
    content_type = serializers.CharField(help_text="Detected from the content, not the name.")
    size = serializers.IntegerField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    url = serializers.CharField(help_text="Download (members only, always as an attachment).")
    thumbnail_url = serializers.CharField(allow_null=True, help_text="Images: an inline WEBP thumbnail.")


class ReplyQuoteSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The original message.")
    seq = serializers.IntegerField()
    sender = serializers.CharField(allow_null=True, help_text="The original's author, null for a system message.")
    sender_public_id = serializers.UUIDField(
        allow_null=True, help_text='Their public_id (a client shows "You" for its own).'
    )
    excerpt = serializers.CharField(help_text="Its first line, short; empty once deleted.")
    deleted = serializers.BooleanField(help_text='The original was deleted: show "Original message deleted".')


class ReactionGroupSerializer(serializers.Serializer):
    emoji = serializers.ChoiceField(choices=EMOJI, help_text="One of the curated emoji.")
    name = serializers.CharField(help_text='Its name, e.g. "thumbs up".')
    count = serializers.IntegerField()
    user_public_ids = serializers.ListField(
        child=serializers.UUIDField(), help_text="The public_id of every member who reacted so."
    )
    names = serializers.ListField(
        child=serializers.CharField(), help_text="The names of the first 20 of them, in order."
    )


class MessageSerializer(serializers.Serializer):
    """The same shape as a message on the live socket (chat.realtime.message_payload)."""

    id = serializers.IntegerField()
    conversation = serializers.IntegerField()
    seq = serializers.IntegerField(help_text="Position in the conversation: 1, 2, 3… without gaps.")
    kind = serializers.CharField(help_text='"text", or "system" for membership changes.')
    sender = ChatUserSerializer(allow_null=True, help_text="null for system messages.")
    body = serializers.CharField(help_text="Empty once deleted.")
    body_html = serializers.CharField(
        help_text="The body as safe HTML (escaped, then links, @mentions, **bold**, *italics*, `code`, code "
        "blocks and line breaks marked up by chat.formatting); empty once deleted."
    )
    client_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    change_seq = serializers.IntegerField(
        help_text="The conversation's change counter at this message's last edit or delete (0: never)."
    )
    attachments = AttachmentSerializer(many=True, help_text="Files; empty once deleted.")
    reply_to = ReplyQuoteSerializer(allow_null=True, help_text="The quote of the message this one answers.")
    reactions = ReactionGroupSerializer(
        many=True, help_text="Emoji reactions by emoji, in the order each was first used; empty once deleted."
    )

    def to_representation(self, instance):
        return realtime.message_payload(instance)


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    more = serializers.BooleanField(help_text="More messages exist in the direction asked.")
    change_seq = serializers.IntegerField(
        required=False, help_text="With `changed_after`: the cursor to pass next time."
    )


class MemberSerializer(serializers.Serializer):
    user = ChatUserSerializer()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    joined_at = serializers.DateTimeField()

    def to_representation(self, instance):
        return {
            "user": realtime.user_payload(instance.user),
            "role": instance.role,
            "joined_at": api_timestamp(instance.joined_at),
        }


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text='"direct" or "group".')
    title = serializers.CharField(help_text="The group's name, or the other person's name.")
    other = ChatUserSerializer(allow_null=True, help_text="The other person of a direct conversation.")
    last_seq = serializers.IntegerField()
    last_message = MessageSerializer(allow_null=True)
    last_message_at = serializers.DateTimeField()
    unread = serializers.IntegerField()
    last_read_seq = serializers.IntegerField()
    other_last_read_seq = serializers.IntegerField(help_text='Direct only: for a "Seen" marker.')
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    muted = serializers.BooleanField()
    archived = serializers.BooleanField()
    accepted = serializers.BooleanField(help_text="False: a message request waiting for my answer.")
    picture_url = serializers.CharField(allow_null=True, help_text="Groups: the picture (members only), or null.")

    def to_representation(self, summary: selectors.ConversationSummary):
        conversation, membership = summary.conversation, summary.membership
        return {
            "id": conversation.pk,
            "kind": conversation.kind,
            "title": summary.title,
            "other": realtime.user_payload(summary.other),
            "last_seq": conversation.last_seq,
            "last_message": realtime.message_payload(conversation.last_message) if conversation.last_message else None,
            "last_message_at": api_timestamp(conversation.last_message_at),
            "unread": summary.unread,
            "last_read_seq": membership.last_read_seq,
            "other_last_read_seq": summary.other_last_read_seq,
            "role": membership.role,
            "muted": membership.muted,
            "archived": membership.archived,
            "accepted": membership.accepted,
            "picture_url": reverse("chat:picture", args=[conversation.pk]) if conversation.picture else None,
        }


class ConversationDetailSerializer(ConversationSerializer):
    members = MemberSerializer(many=True, help_text="Groups: the active members.")

    def to_representation(self, summary):
        data = super().to_representation(summary)
        data["members"] = [MemberSerializer(m).data for m in summary.members]
        return data


class GroupCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    members = serializers.ListField(child=serializers.UUIDField(), max_length=300, default=list)


# Rules the chat service checks itself, so that its refusal keeps its `code`: the schema states
# them as patterns (ECMA, unanchored unless anchored, as JSON Schema reads them).
@extend_schema_field({"type": "string", "pattern": CLIENT_ID_RE.pattern})
class ClientIdField(serializers.CharField):
    """client_id: the service refuses any other shape as `invalid_client_id`."""


@extend_schema_field({"type": "string", "pattern": r"^[^\u0000]*[^\s\u0000\u001c-\u001f\u0085][^\u0000]*$"})
class MessageBodyField(serializers.CharField):
    """A message's text: the service refuses one of only spaces as `empty_body` (str.strip's
    spaces, which add U+001C-U+001F and U+0085 to ECMA's \\s), and DRF's CharField refuses NUL."""


class DirectOpenSerializer(serializers.Serializer):
    user = serializers.UUIDField(help_text="The other person's public_id.")


class ConversationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX_LENGTH, required=False, help_text="Groups; owners and admins.")
    muted = serializers.BooleanField(required=False)
    archived = serializers.BooleanField(required=False)


class SendSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=BODY_MAX_LENGTH,
        trim_whitespace=False,
        required=False,
        allow_blank=True,
        default="",
        help_text="May be empty when files are attached.",
    )
    client_id = ClientIdField(
        max_length=CLIENT_ID_MAX_LENGTH,
        help_text="A UUID made by the client (8 to 64 letters, digits or - _ . :; else `invalid_client_id`).",
    )
    reply_to = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="Reply to this earlier message of the same conversation (400 for any other).",
    )
    files = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="multipart/form-data only: up to 5 files (images, PDF, Office/OpenDocument, text).",
    )


class EditSerializer(serializers.Serializer):
    body = MessageBodyField(
        max_length=BODY_MAX_LENGTH, trim_whitespace=False, help_text="Not only spaces (else `empty_body`)."
    )


class ReactionSerializer(serializers.Serializer):
    emoji = serializers.ChoiceField(choices=EMOJI, help_text="One of the curated emoji (chat.emoji).")


class ReadSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0, max_value=MAX_ID)


class MembersAddSerializer(serializers.Serializer):
    users = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=300)


class MessagesQuerySerializer(serializers.Serializer):
    before = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    after = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    changed_after = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_ID,
        help_text="Messages edited or deleted after this change cursor (resync after being away).",
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)


REFUSED = refusal_response("Refused by a rule; `code` names it.")
NOT_FOUND = refusal_response("No such conversation or message, or not yours.")


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _people(public_ids) -> list[User]:
    ids = set(public_ids)
    people = list(User.objects.filter(public_id__in=ids, is_active=True))
    if len(people) != len(ids):
        raise NotFound("No such student.")
    return people


def _person(public_id) -> User:
    return _people([public_id])[0]


class ChatAPIView(APIView):
    permission_classes = [IsAuthenticated]

    def handle_exception(self, exc):
        if isinstance(exc, Conversation.DoesNotExist):  # chat.access: not a member is not there
            exc = NotFound("No such conversation.")
        elif isinstance(exc, Attachment.DoesNotExist):
            exc = NotFound("No such file.")
        elif isinstance(exc, Message.DoesNotExist):
            exc = NotFound("No such message.")
        return super().handle_exception(exc)

    def summary(self, pk: int, *, detail: bool = False):
        summary = selectors.conversation_for(user=self.request.user, conversation_id=pk)
        serializer = ConversationDetailSerializer if detail else ConversationSerializer
        return serializer(summary).data


# --- Views --------------------------------------------------------------------------------------


class ConversationListView(ChatAPIView):
    """A page of the user's conversations: the API's one list shape, no cap but the page size."""

    pagination_class = PagePagination

    @extend_schema(
        summary="My conversations, most recent activity first",
        parameters=[
            OpenApiParameter("archived", OpenApiTypes.BOOL, description="Archived ones instead."),
            OpenApiParameter("requests", OpenApiTypes.BOOL, description="Message requests instead."),
        ],
        responses=ConversationSerializer(many=True),
    )
    def get(self, request):
        flag = lambda name: request.query_params.get(name) in {"1", "true", "yes"}  # noqa: E731
        rows = selectors.conversation_rows_for(user=request.user, archived=flag("archived"), requests=flag("requests"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        if flag("requests"):
            notification_services.mark_read_for_subject(user=request.user, subject=reverse("chat:requests"))
        summaries = selectors.summaries_of(user=request.user, memberships=page)
        return paginator.get_paginated_response(ConversationSerializer(summaries, many=True).data)

    @extend_schema(
        summary="Create a group with friends",
        request=GroupCreateSerializer,
        responses={201: ConversationDetailSerializer, 400: REFUSED, 404: NOT_FOUND, 409: REFUSED},
    )
    def post(self, request):
        data = _valid(GroupCreateSerializer, request.data)
        group = services.create_group(owner=request.user, name=data["name"], members=_people(data["members"]))
        return Response(self.summary(group.pk, detail=True), status=status.HTTP_201_CREATED)


class DirectConversationView(ChatAPIView):
    @extend_schema(
        summary="Open (or create) the direct conversation with a student",
        request=DirectOpenSerializer,
        responses={200: ConversationDetailSerializer, 403: REFUSED, 404: NOT_FOUND},
    )
    def post(self, request):
        data = _valid(DirectOpenSerializer, request.data)
        conversation = services.open_direct_conversation(user=request.user, other=_person(data["user"]))
        return Response(self.summary(conversation.pk, detail=True))


class ConversationDetailView(ChatAPIView):
    @extend_schema(
        summary="One conversation with its members", responses={200: ConversationDetailSerializer, 404: NOT_FOUND}
    )
    def get(self, request, pk: int):
        data = self.summary(pk, detail=True)
        notification_services.mark_read_for_subject(user=request.user, subject=reverse("chat:conversation", args=[pk]))
        return Response(data)

    @extend_schema(
        summary="Rename (groups), mute or archive",
        request=ConversationUpdateSerializer,
        responses={200: ConversationDetailSerializer, 400: REFUSED, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED},
    )
    def patch(self, request, pk: int):
        data = _valid(ConversationUpdateSerializer, request.data)
        selectors.conversation_for(user=request.user, conversation_id=pk)
        if "name" in data:
            services.rename_group(actor=request.user, conversation_id=pk, name=data["name"])
        if "muted" in data:
            services.set_muted(user=request.user, conversation_id=pk, muted=data["muted"])
        if "archived" in data:
            services.set_archived(user=request.user, conversation_id=pk, archived=data["archived"])
        return Response(self.summary(pk, detail=True))


class MessagesView(ChatAPIView):
    @extend_schema(
        summary="Messages: the newest page, older ones (`before`) or newer ones (`after`)",
        parameters=[MessagesQuerySerializer],
        responses={200: MessagePageSerializer, 404: NOT_FOUND},
    )
    def get(self, request, pk: int):
        query = _valid(MessagesQuerySerializer, request.query_params)
        if "changed_after" in query:
            page, cursor, more = selectors.changes_since(
                user=request.user, conversation_id=pk, after_change=query["changed_after"], limit=query["limit"]
            )
            return Response({"results": MessageSerializer(page, many=True).data, "more": more, "change_seq": cursor})
        if "after" in query:
            page, more = selectors.messages_since(
                user=request.user, conversation_id=pk, after_seq=query["after"], limit=query["limit"]
            )
        else:
            page, more = selectors.history(
                user=request.user, conversation_id=pk, before_seq=query.get("before"), limit=query["limit"]
            )
        # The messages are shown: what pointed at this conversation is read (not for the
        # changes feed above, which a client syncs in the background).
        notification_services.mark_read_for_subject(user=request.user, subject=reverse("chat:conversation", args=[pk]))
        return Response({"results": MessageSerializer(page, many=True).data, "more": more})

    @extend_schema(
        summary="Send a message (idempotent by client_id)",
        request=SendSerializer,
        responses={
            201: MessageSerializer,
            200: MessageSerializer,
            400: REFUSED,
            403: REFUSED,
            404: NOT_FOUND,
            409: REFUSED,
            413: REFUSED,
            415: REFUSED,
            429: REFUSED,
        },
    )
    def post(self, request, pk: int):
        data = _valid(SendSerializer, request.data)
        message, created = services.send_message(
            sender=request.user,
            conversation_id=pk,
            body=data["body"],
            client_id=data["client_id"],
            files=request.FILES.getlist("files"),
            reply_to=data.get("reply_to"),
        )
        return Response(
            MessageSerializer(message).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class MessageDetailView(ChatAPIView):
    @extend_schema(
        summary="Edit my message",
        request=EditSerializer,
        responses={200: MessageSerializer, 400: REFUSED, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED},
    )
    def patch(self, request, pk: int):
        data = _valid(EditSerializer, request.data)
        return Response(
            MessageSerializer(services.edit_message(user=request.user, message_id=pk, body=data["body"])).data
        )

    @extend_schema(
        summary="Delete my message (a tombstone stays)",
        responses={200: MessageSerializer, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED},
    )
    def delete(self, request, pk: int):
        return Response(MessageSerializer(services.delete_message(user=request.user, message_id=pk)).data)


class ReactionsView(ChatAPIView):
    @extend_schema(
        summary="React to a message with one of the curated emoji (once per emoji per member)",
        request=ReactionSerializer,
        responses={200: MessageSerializer, 400: REFUSED, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED, 429: REFUSED},
    )
    def post(self, request, pk: int):
        selectors.message_for(user=request.user, message_id=pk)  # 404 before anything about the input
        data = _valid(ReactionSerializer, request.data)
        message, _changed = services.set_reaction(user=request.user, message_id=pk, emoji=data["emoji"], on=True)
        return Response(MessageSerializer(message).data)

    @extend_schema(
        summary="Take my reaction off a message",
        parameters=[
            OpenApiParameter(
                "emoji",
                OpenApiTypes.STR,
                required=True,
                enum=[emoji for emoji, _ in EMOJI],
                description="The emoji to remove.",
            )
        ],
        responses={200: MessageSerializer, 400: REFUSED, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED, 429: REFUSED},
    )
    def delete(self, request, pk: int):
        selectors.message_for(user=request.user, message_id=pk)
        data = _valid(ReactionSerializer, {"emoji": request.query_params.get("emoji", "")})
        message, _changed = services.set_reaction(user=request.user, message_id=pk, emoji=data["emoji"], on=False)
        return Response(MessageSerializer(message).data)


class AttachmentView(ChatAPIView):
    @extend_schema(
        summary="Download a file of a message (members only; always as an attachment)",
        responses={
            (200, "*/*"): OpenApiTypes.BINARY,
            404: NOT_FOUND,
        },
    )
    def get(self, request, pk: int):
        return attachment_response(selectors.attachment_for(user=request.user, attachment_id=pk))


class GroupPictureUploadSerializer(serializers.Serializer):
    picture = serializers.FileField(help_text="JPEG, PNG, WEBP or GIF; cropped to a square 256 px WEBP.")


class GroupPictureView(ChatAPIView):
    @extend_schema(
        summary="The group's picture (members only)",
        responses={(200, "image/webp"): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    def get(self, request, pk: int):
        summary = selectors.conversation_for(user=request.user, conversation_id=pk)
        return group_picture_response(summary.conversation)

    @extend_schema(
        summary="Set the group's picture (owners and admins; multipart `picture`)",
        request={"multipart/form-data": GroupPictureUploadSerializer},
        responses={
            200: ConversationDetailSerializer,
            400: REFUSED,
            403: REFUSED,
            404: NOT_FOUND,
            409: REFUSED,
            413: REFUSED,
            415: REFUSED,
        },
    )
    def put(self, request, pk: int):
        selectors.conversation_for(user=request.user, conversation_id=pk)  # 404 before any other answer
        upload = request.FILES.get("picture")
        if upload is None:
            return Response(
                {
                    "detail": "Send the image as the multipart field `picture`.",
                    "code": "required",
                    "errors": {"picture": ["Required."]},
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        services.set_group_picture(actor=request.user, conversation_id=pk, upload=upload)
        return Response(self.summary(pk, detail=True))

    @extend_schema(
        summary="Remove the group's picture (owners and admins)",
        request=None,
        responses={200: ConversationDetailSerializer, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED},
    )
    def delete(self, request, pk: int):
        services.set_group_picture(actor=request.user, conversation_id=pk, upload=None)
        return Response(self.summary(pk, detail=True))


class ReadView(ChatAPIView):
    @extend_schema(
        summary="Mark read up to seq", request=ReadSerializer, responses={200: ConversationSerializer, 404: NOT_FOUND}
    )
    def post(self, request, pk: int):
        data = _valid(ReadSerializer, request.data)
        services.mark_read(user=request.user, conversation_id=pk, seq=data["seq"])
        return Response(self.summary(pk))


class AcceptRequestView(ChatAPIView):
    @extend_schema(
        summary="Accept a message request", request=None, responses={200: ConversationSerializer, 404: NOT_FOUND}
    )
    def post(self, request, pk: int):
        services.accept_message_request(user=request.user, conversation_id=pk)
        return Response(self.summary(pk))


class LeaveView(ChatAPIView):
    @extend_schema(summary="Leave a group", request=None, responses={204: None, 404: NOT_FOUND, 409: REFUSED})
    def post(self, request, pk: int):
        services.leave_group(user=request.user, conversation_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembersView(ChatAPIView):
    @extend_schema(summary="Active members", responses={200: MemberSerializer(many=True), 404: NOT_FOUND})
    def get(self, request, pk: int):
        summary = selectors.conversation_for(user=request.user, conversation_id=pk)
        members = summary.members or list(selectors.members_of(conversation=summary.conversation))
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(
        summary="Add friends to a group (owners and admins)",
        request=MembersAddSerializer,
        responses={200: MemberSerializer(many=True), 403: REFUSED, 404: NOT_FOUND, 409: REFUSED},
    )
    def post(self, request, pk: int):
        data = _valid(MembersAddSerializer, request.data)
        services.add_members(actor=request.user, conversation_id=pk, users=_people(data["users"]))
        return self.get(request, pk)


class MemberDetailView(ChatAPIView):
    @extend_schema(
        summary="Remove a member (owners and admins)",
        responses={204: None, 400: REFUSED, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED},
    )
    def delete(self, request, pk: int, public_id):
        selectors.conversation_for(user=request.user, conversation_id=pk)  # 404 before anything about the person
        services.remove_member(actor=request.user, conversation_id=pk, user=_person(public_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PromoteView(ChatAPIView):
    @extend_schema(
        summary="Make a member an admin",
        request=None,
        responses={200: MemberSerializer, 400: REFUSED, 403: REFUSED, 404: NOT_FOUND, 409: REFUSED},
    )
    def post(self, request, pk: int, public_id):
        selectors.conversation_for(user=request.user, conversation_id=pk)  # 404 before anything about the person
        membership = services.promote_member(actor=request.user, conversation_id=pk, user=_person(public_id))
        return Response(MemberSerializer(membership).data)
