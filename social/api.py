"""JSON API of the social app, under /api/v1/ (see api_urls.py).

People are always named by their `public_id`; friend requests by their id, which only their
sender and recipient can act on (anyone else gets 404, as for an id that does not exist).
A rule's refusal is services.SocialRefusal, answered by config.api.exception_handler in the one
refusal body: 400 for bad input, 403 for an unconfirmed address, 409 when the current state
refuses the action; 404 for what the caller cannot see.
"""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from config.schema import refusal_response
from notifications import services as notification_services
from social import selectors, services
from social.forms import FILTER_MAX_LENGTH
from social.models import NOTE_MAX_LENGTH, REPORT_DETAILS_MAX_LENGTH, Block, FriendRequest, Friendship, Report

# --- Serializers ---------------------------------------------------------------------------------


BAD_REQUEST = refusal_response("Invalid input; `errors` lists it by field.")
REFUSED = refusal_response("Refused by a rule (e.g. a request to oneself).")
NOT_FOUND = refusal_response("No such thing, or not yours to see.")
CONFLICT = refusal_response("The current state refuses it (already friends, …).")
UNAUTHORIZED = refusal_response("Missing or invalid credentials.")


class PersonSerializer(serializers.ModelSerializer):
    """A student as the directory shows them, with the caller's relationship to them."""

    full_name = serializers.CharField(source="get_full_name", read_only=True)
    avatar_url = serializers.SerializerMethodField()
    relationship = serializers.ChoiceField(
        choices=[selectors.FRIEND, selectors.REQUEST_SENT, selectors.REQUEST_RECEIVED, selectors.NONE],
        read_only=True,
        help_text="friend, request_sent, request_received or none.",
    )
    sent_request_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="My pending request to them (to cancel)."
    )
    received_request_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Their pending request to me (to accept or decline)."
    )

    class Meta:
        model = User
        fields = [
            "public_id",
            "first_name",
            "last_name",
            "full_name",
            "university",
            "course",
            "interests",
            "avatar_url",
            "relationship",
            "sent_request_id",
            "received_request_id",
        ]
        read_only_fields = fields

    def get_avatar_url(self, person: User) -> str | None:
        if not person.avatar:
            return None
        url = person.avatar.url
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url


class SuggestionSerializer(PersonSerializer):
    same_course = serializers.BooleanField(read_only=True)
    mutual_friends = serializers.IntegerField(read_only=True)

    class Meta(PersonSerializer.Meta):
        fields = [*PersonSerializer.Meta.fields, "same_course", "mutual_friends"]
        read_only_fields = fields


class FriendSerializer(PersonSerializer):
    friends_since = serializers.DateTimeField(read_only=True)

    class Meta(PersonSerializer.Meta):
        fields = [*PersonSerializer.Meta.fields, "friends_since"]
        read_only_fields = fields


class PersonBriefSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(source="get_full_name", read_only=True)

    class Meta:
        model = User
        fields = ["public_id", "first_name", "last_name", "full_name", "university", "course"]
        read_only_fields = fields


class BlockedPersonSerializer(PersonBriefSerializer):
    blocked_at = serializers.DateTimeField(read_only=True)

    class Meta(PersonBriefSerializer.Meta):
        fields = [*PersonBriefSerializer.Meta.fields, "blocked_at"]
        read_only_fields = fields


class FriendRequestSerializer(serializers.ModelSerializer):
    from_user = PersonBriefSerializer(read_only=True)
    to_user = PersonBriefSerializer(read_only=True)

    class Meta:
        model = FriendRequest
        fields = ["id", "from_user", "to_user", "note", "status", "created_at", "responded_at"]
        read_only_fields = fields


class FriendRequestCreateSerializer(serializers.Serializer):
    to = serializers.UUIDField(help_text="The public_id of the student to ask.")
    note = serializers.CharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="")


class BlockCreateSerializer(serializers.Serializer):
    user = serializers.UUIDField(help_text="The public_id of the student to block.")


class ReportCreateSerializer(serializers.Serializer):
    user = serializers.UUIDField(help_text="The public_id of the student to report.")
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    details = serializers.CharField(max_length=REPORT_DETAILS_MAX_LENGTH, required=False, allow_blank=True, default="")


class ReportSerializer(serializers.ModelSerializer):
    reported = PersonBriefSerializer(read_only=True)

    class Meta:
        model = Report
        fields = ["id", "reported", "reason", "details", "created_at"]
        read_only_fields = fields


class DirectoryQuerySerializer(serializers.Serializer):
    university = serializers.CharField(
        max_length=FILTER_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text='Part of the university\'s name, ignoring case, accents and punctuation ("northbridge").',
    )
    course = serializers.CharField(
        max_length=FILTER_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Part of the course's name, matched the same way.",
    )
    q = serializers.CharField(max_length=FILTER_MAX_LENGTH, required=False, allow_blank=True, default="")
    interests = serializers.CharField(max_length=FILTER_MAX_LENGTH, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        attrs = {name: value.strip() for name, value in attrs.items()}
        if not any(attrs.values()):
            raise serializers.ValidationError(
                {"non_field_errors": ["Give at least one filter: university, course, q (name) or interests."]},
                code="no_filter",
            )
        return attrs


class SuggestionsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=50, required=False, default=10)


class FriendsQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=FILTER_MAX_LENGTH, required=False, allow_blank=True, default="")


class RequestsQuerySerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["incoming", "outgoing"], required=False, default="incoming")


# --- Helpers -------------------------------------------------------------------------------------


def _query(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


NO_SUCH_STUDENT = "No such student."
NO_SUCH_REQUEST = "No such friend request."


# --- Views ---------------------------------------------------------------------------------------


@extend_schema(
    tags=["people"],
    summary="Search the student directory",
    description="Filters combine. At least one is required. Excludes you, inactive accounts and blocks either way.",
    parameters=[DirectoryQuerySerializer],
    responses={200: PersonSerializer(many=True), 400: BAD_REQUEST, 401: UNAUTHORIZED},
)
class DirectoryView(generics.ListAPIView):
    serializer_class = PersonSerializer

    def get_queryset(self):
        filters = _query(DirectoryQuerySerializer, self.request)
        return selectors.search_directory(viewer=self.request.user, **filters)


class SuggestionsView(APIView):
    @extend_schema(
        tags=["people"],
        summary="People you may know",
        description="Classmates first, then by mutual friends. Never friends, pending requests or blocks.",
        parameters=[SuggestionsQuerySerializer],
        responses={200: SuggestionSerializer(many=True), 400: BAD_REQUEST, 401: UNAUTHORIZED},
    )
    def get(self, request):
        limit = _query(SuggestionsQuerySerializer, request)["limit"]
        people = selectors.people_you_may_know(user=request.user, limit=limit)
        return Response(SuggestionSerializer(people, many=True, context={"request": request}).data)


class FriendRequestListCreateView(generics.ListAPIView):
    serializer_class = FriendRequestSerializer

    def get_queryset(self):
        direction = _query(RequestsQuerySerializer, self.request)["direction"]
        if direction == "outgoing":
            return selectors.outgoing_requests(user=self.request.user).select_related("from_user")
        services.mark_request_notifications_seen(user=self.request.user)  # they are shown
        return selectors.incoming_requests(user=self.request.user).select_related("to_user")

    @extend_schema(
        tags=["friend requests"],
        summary="My pending friend requests (incoming by default)",
        parameters=[RequestsQuerySerializer],
        responses={200: FriendRequestSerializer(many=True), 400: BAD_REQUEST, 401: UNAUTHORIZED},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["friend requests"],
        summary="Send a friend request",
        description=(
            "201 with the new pending request. If that student had already asked you, this accepts "
            "their request instead: 200 with it, status `accepted`."
        ),
        request=FriendRequestCreateSerializer,
        responses={
            201: FriendRequestSerializer,
            200: FriendRequestSerializer,
            400: REFUSED,
            404: NOT_FOUND,
            409: CONFLICT,
            401: UNAUTHORIZED,
        },
    )
    def post(self, request):
        serializer = FriendRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person = selectors.person_for(viewer=request.user, public_id=serializer.validated_data["to"])
        if person is None:
            raise NotFound(NO_SUCH_STUDENT)
        result = services.send_friend_request(
            from_user=request.user, to_user=person, note=serializer.validated_data["note"]
        )
        code = status.HTTP_200_OK if result.became_friends else status.HTTP_201_CREATED
        return Response(FriendRequestSerializer(result.friend_request).data, status=code)


class _FriendRequestActionView(APIView):
    action_name = ""

    def act(self, request, pk: int) -> FriendRequest:
        raise NotImplementedError

    def post(self, request, pk: int):
        try:
            friend_request = self.act(request, pk)
        except FriendRequest.DoesNotExist:
            raise NotFound(NO_SUCH_REQUEST) from None
        return Response(FriendRequestSerializer(friend_request).data)


_ACTION_RESPONSES = {200: FriendRequestSerializer, 404: NOT_FOUND, 409: CONFLICT, 401: UNAUTHORIZED}


class FriendRequestCancelView(_FriendRequestActionView):
    @extend_schema(
        tags=["friend requests"], summary="Cancel a request I sent", request=None, responses=_ACTION_RESPONSES
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, pk: int) -> FriendRequest:
        return services.cancel_friend_request(user=request.user, request_id=pk)


class FriendRequestAcceptView(_FriendRequestActionView):
    @extend_schema(
        tags=["friend requests"], summary="Accept a request I received", request=None, responses=_ACTION_RESPONSES
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, pk: int) -> FriendRequest:
        return services.accept_friend_request(user=request.user, request_id=pk)


class FriendRequestDeclineView(_FriendRequestActionView):
    @extend_schema(
        tags=["friend requests"], summary="Decline a request I received", request=None, responses=_ACTION_RESPONSES
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, pk: int) -> FriendRequest:
        return services.decline_friend_request(user=request.user, request_id=pk)


@extend_schema(
    tags=["friends"],
    summary="My friends",
    parameters=[FriendsQuerySerializer],
    responses={200: FriendSerializer(many=True), 400: BAD_REQUEST, 401: UNAUTHORIZED},
)
class FriendListView(generics.ListAPIView):
    serializer_class = FriendSerializer

    def get_queryset(self):
        q = _query(FriendsQuerySerializer, self.request)["q"]
        notification_services.mark_read_for_subject(user=self.request.user, subject=reverse("social:friends"))
        return selectors.friends_of(user=self.request.user, q=q)


PUBLIC_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="A student's public_id."
)


class FriendDetailView(APIView):
    @extend_schema(
        tags=["friends"],
        summary="Unfriend",
        parameters=[PUBLIC_ID],
        responses={204: None, 404: NOT_FOUND, 401: UNAUTHORIZED},
    )
    def delete(self, request, public_id):
        person = selectors.active_person(public_id=public_id)
        if person is None:
            raise NotFound(NO_SUCH_STUDENT)
        try:
            services.unfriend(user=request.user, other=person)
        except Friendship.DoesNotExist:
            raise NotFound("You are not friends with this student.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockListCreateView(generics.ListAPIView):
    serializer_class = BlockedPersonSerializer

    def get_queryset(self):
        return selectors.blocked_by(user=self.request.user)

    @extend_schema(
        tags=["blocks"],
        summary="Students I have blocked",
        responses={200: BlockedPersonSerializer(many=True), 401: UNAUTHORIZED},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["blocks"],
        summary="Block a student",
        description="Ends a friendship and pending requests either way. They can no longer find you or ask you.",
        request=BlockCreateSerializer,
        responses={201: BlockedPersonSerializer, 400: REFUSED, 404: NOT_FOUND, 409: CONFLICT, 401: UNAUTHORIZED},
    )
    def post(self, request):
        serializer = BlockCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person = selectors.active_person(public_id=serializer.validated_data["user"])
        if person is None:
            raise NotFound(NO_SUCH_STUDENT)
        block = services.block_user(blocker=request.user, blocked=person)
        person.blocked_at = block.created_at
        return Response(BlockedPersonSerializer(person).data, status=status.HTTP_201_CREATED)


class BlockDetailView(APIView):
    @extend_schema(
        tags=["blocks"],
        summary="Unblock a student",
        parameters=[PUBLIC_ID],
        responses={204: None, 404: NOT_FOUND, 401: UNAUTHORIZED},
    )
    def delete(self, request, public_id):
        person = selectors.person_blocked_by(viewer=request.user, public_id=public_id)
        if person is None:
            raise NotFound("You have not blocked this student.")
        try:
            services.unblock_user(blocker=request.user, blocked=person)
        except Block.DoesNotExist:
            raise NotFound("You have not blocked this student.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReportCreateView(APIView):
    @extend_schema(
        tags=["reports"],
        summary="Report a student to the moderators",
        request=ReportCreateSerializer,
        responses={201: ReportSerializer, 400: BAD_REQUEST, 404: NOT_FOUND, 409: CONFLICT, 401: UNAUTHORIZED},
    )
    def post(self, request):
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        person = selectors.active_person(public_id=data["user"])
        if person is None:
            raise NotFound(NO_SUCH_STUDENT)
        report = services.report_user(
            reporter=request.user, reported=person, reason=data["reason"], details=data["details"]
        )
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)
