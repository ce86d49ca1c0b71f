"""JSON API of the help desk, under /api/v1/help/ (see api_urls.py).

Requests and documents are named by their UUIDs. What the caller may not see is 404, as for an
id that does not exist. Times are ISO 8601 in UTC; a time sent without an offset is taken as UTC.
A request's `slots` are the requester's preferred times; `stage` and `actions` say where the
request is and what the caller may do now (the same rule as the request page).

Errors are JSON with `detail` (plus `errors` per field for bad input,
`code` for a refusal): 400 bad input, 404 not yours or unknown, 409 when the current state
refuses the action (taken by another expert, illegal transition, cap reached, rated already).
"""

from django.core.validators import RegexValidator
from django.http import HttpResponse, QueryDict
from django.utils.text import get_valid_filename
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.inputs import MAX_ID, GatedJSONParser
from config.schema import refusal_response
from experts import selectors as expert_selectors
from experts.models import ExpertProfile
from helpdesk import documents, selectors, services
from helpdesk.models import (
    DESCRIPTION_MAX_LENGTH,
    FEEDBACK_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TIMES_NOTE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    HelpDocument,
    HelpRequest,
    HelpRequestEvent,
)
from helpdesk.slots import MAX_SLOTS
from notifications import services as notification_services

# Rule refusals are services.HelpdeskRefusal (its status_by_code: 409 for the state, 403 for
# the account); a refused input is a ValidationError keyed by field. config.api.exception_handler
# answers both in the one refusal body; no view here catches either.


# --- serializers ---------------------------------------------------------------------------


BAD_REQUEST = refusal_response("Invalid input; `errors` lists it by field.")
NOT_FOUND = refusal_response("No such request, or not yours to see.")
CONFLICT = refusal_response("The current state refuses it; `code` says which rule.")
FORBIDDEN = refusal_response(
    "Not allowed for this account: `not_verified` (no longer an approved expert) or "
    "`unverified` (e-mail address not confirmed yet).",
)


class HelpPersonSerializer(serializers.Serializer):
    public_id = serializers.UUIDField()
    full_name = serializers.CharField(source="get_full_name")


class HelpCategorySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class HelpDocumentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = HelpDocument
        fields = ["id", "original_name", "content_type", "size", "sha256", "created_at", "download_url"]

    def get_download_url(self, document: HelpDocument) -> str | None:
        """Null for a candidate expert: documents download after accepting (requester, the
        expert holding the request and staff only)."""
        from django.urls import reverse

        if not self.context.get("can_download"):
            return None
        return reverse(
            "api:helpdesk-document", kwargs={"public_id": document.request.public_id, "document_id": document.public_id}
        )


class HelpEventSerializer(serializers.ModelSerializer):
    actor = HelpPersonSerializer(allow_null=True)

    class Meta:
        model = HelpRequestEvent
        fields = [
            "action",
            "from_status",
            "to_status",
            "note",
            "session_start",
            "session_end",
            "previous_start",
            "actor",
            "created_at",
        ]


# Rules of time that OpenAPI cannot state (docs/security.md, "What the API schema cannot say").
FUTURE_START = "In the future (a past time is refused with 400)."
SLOT_END = "After start: 30 minutes to 12 hours later."
SESSION_END = "After start: 10 minutes to 4 hours later."


class HelpSlotSerializer(serializers.Serializer):
    """A time range in which the requester can meet."""

    start = serializers.DateTimeField(help_text=FUTURE_START)
    end = serializers.DateTimeField(help_text=SLOT_END)


class HelpRequestSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    category = HelpCategorySerializer()
    requester = HelpPersonSerializer()
    expert = HelpPersonSerializer(allow_null=True)
    direct_expert = HelpPersonSerializer(
        allow_null=True,
        help_text='The expert the request was addressed to ("Ask <name> for help"), or null.',
    )
    direct_until = serializers.DateTimeField(
        allow_null=True,
        help_text="While set, the request waits for direct_expert alone; then it goes to the category's queue "
        "(null once it has, or when it was never addressed to one expert).",
    )
    resubmitted_from = serializers.SlugRelatedField(
        slug_field="public_id",
        read_only=True,
        allow_null=True,
        help_text="The expired or cancelled request this one submits again, or null.",
    )

    class Meta:
        model = HelpRequest
        fields = [
            "id",
            "title",
            "description",
            "times_note",
            "category",
            "status",
            "requester",
            "expert",
            "accepted_at",
            "scheduled_start",
            "scheduled_end",
            "meeting_state",
            "meeting_join_url",
            "direct_expert",
            "direct_until",
            "resubmitted_from",
            "created_at",
            "updated_at",
        ]


class HelpRequestDetailSerializer(HelpRequestSerializer):
    slots = serializers.SerializerMethodField()
    stage = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    documents = serializers.SerializerMethodField()
    rating = serializers.SerializerMethodField()
    resubmitted_as = serializers.SerializerMethodField()

    class Meta(HelpRequestSerializer.Meta):
        fields = [
            *HelpRequestSerializer.Meta.fields,
            "resubmitted_as",
            "meeting_error",
            "slots",
            "stage",
            "actions",
            "timeline",
            "documents",
            "rating",
        ]

    def _page(self, obj) -> selectors.RequestPage:
        if getattr(self, "_page_for", (None, None))[0] is not obj:
            self._page_for = (obj, selectors.request_page_for(user=self.context["request"].user, help_request=obj))
        return self._page_for[1]

    @extend_schema_field(HelpSlotSerializer(many=True))
    def get_slots(self, obj) -> list[dict]:
        return HelpSlotSerializer(self._page(obj).slots, many=True).data

    @extend_schema_field(serializers.ChoiceField(choices=selectors.STAGES))
    def get_stage(self, obj) -> str:
        return self._page(obj).stage

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=selectors.ACTIONS)))
    def get_actions(self, obj) -> list[str]:
        return sorted(self._page(obj).actions)

    @extend_schema_field(HelpEventSerializer(many=True))
    def get_timeline(self, obj) -> list[dict]:
        return HelpEventSerializer(self._page(obj).timeline, many=True).data

    def get_documents(self, obj) -> list[dict]:
        request = self.context.get("request")
        allowed = request is not None and selectors.can_download(user=request.user, help_request=obj)
        return HelpDocumentSerializer(
            selectors.documents_for(help_request=obj), many=True, context={"can_download": allowed}
        ).data

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_resubmitted_as(self, obj) -> str | None:
        """The request that submitted this one again, or null."""
        again = selectors.resubmitted_as(obj)
        return None if again is None else str(again.public_id)

    def get_rating(self, obj) -> dict | None:
        rating = self._page(obj).rating
        return None if rating is None else {"stars": rating.stars, "feedback": rating.feedback}


class HelpSubmitSerializer(serializers.Serializer):
    category = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH)
    slots = HelpSlotSerializer(
        many=True,
        required=False,
        max_length=MAX_SLOTS,
        help_text=f"Up to {MAX_SLOTS} times the requester can meet: each in the future, ending after it starts, "
        "30 minutes to 12 hours long, none overlapping. In multipart bodies: slots[0]start, slots[0]end, ….",
    )
    times_note = serializers.CharField(max_length=TIMES_NOTE_MAX_LENGTH, required=False, allow_blank=True)
    files = serializers.ListField(child=serializers.FileField(), required=False, max_length=documents.MAX_FILES)
    resubmit_of = serializers.UUIDField(
        required=False,
        help_text="Submit again: the id of my expired or cancelled request this one repeats (once per request). "
        "404 if it is not mine; 409 if it is not expired or cancelled, or was submitted again already.",
    )
    keep_documents = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=documents.MAX_FILES,
        help_text="With resubmit_of: ids of that request's documents to copy to the new one "
        f"(with the uploaded files, at most {documents.MAX_FILES}).",
    )
    expert = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="Ask one expert first (their expert profile id): the request waits for them alone for "
        "HELPDESK_DIRECT_WINDOW_MINUTES, then goes to the category's queue. 404 for an expert who is not "
        "approved or with whom a block stands; 400 for oneself or a category they are not an expert in.",
    )


class HelpNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True)


class HelpReleaseSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX_LENGTH)


class HelpScheduleSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text=FUTURE_START)
    end = serializers.DateTimeField(help_text=SESSION_END)


class HelpAcceptSerializer(serializers.Serializer):
    """Accept alone, or accept and schedule in one step: give start and end (within one of the
    requester's slots, or another time the expert proposes)."""

    start = serializers.DateTimeField(required=False, help_text=f"With end, or neither. {FUTURE_START}")
    end = serializers.DateTimeField(required=False, help_text=f"With start, or neither. {SESSION_END}")


class HelpMeetingLinkSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=2000,
        validators=[RegexValidator(r"^[Hh][Tt][Tt][Pp][Ss]://\S+$", message="Paste a full https:// meeting link.")],
        help_text="A full https:// link to the meeting.",
    )


class HelpRateSerializer(serializers.Serializer):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    feedback = serializers.CharField(max_length=FEEDBACK_MAX_LENGTH, required=False, allow_blank=True)


# --- helpers ---------------------------------------------------------------------------------


def _detail(request, help_request: HelpRequest, code=status.HTTP_200_OK) -> Response:
    fresh = selectors.request_detail_for(user=request.user, request_id=help_request.public_id)
    return Response(HelpRequestDetailSerializer(fresh, context={"request": request}).data, status=code)


def _without_files(data):
    """The request's fields without the uploads (the service takes those separately). A
    multipart body stays a QueryDict, so nested fields like slots[0]start are read as a list."""
    if not hasattr(data, "getlist"):
        return data
    fields = QueryDict(mutable=True)
    for key in data:
        if key != "files":
            fields.setlist(key, data.getlist(key))
    return fields


REQUEST_ID = OpenApiParameter("public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The request's id.")


# --- views ---------------------------------------------------------------------------------


class MyRequestsView(generics.ListAPIView):
    """GET: my help requests, newest first. POST (multipart): submit one with documents."""

    serializer_class = HelpRequestSerializer
    parser_classes = [MultiPartParser, FormParser, GatedJSONParser]

    def get_queryset(self):
        return selectors.my_requests(user=self.request.user)

    @extend_schema(
        request={"multipart/form-data": HelpSubmitSerializer},
        responses={
            201: HelpRequestDetailSerializer,
            400: BAD_REQUEST,
            403: FORBIDDEN,
            404: refusal_response("resubmit_of is not my request, or no such expert to ask."),
            409: CONFLICT,
        },
        summary="Submit a help request (optionally again, or to one expert first)",
    )
    def post(self, request):
        files = request.FILES.getlist("files") if hasattr(request, "FILES") else []
        serializer = HelpSubmitSerializer(data=_without_files(request.data))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            help_request = services.submit_help_request(
                requester=request.user,
                category_id=data["category"],
                title=data["title"],
                description=data["description"],
                slots=[(slot["start"], slot["end"]) for slot in data.get("slots", [])],
                times_note=data.get("times_note", ""),
                files=files,
                resubmit_of=data.get("resubmit_of"),
                keep_documents=data.get("keep_documents", ()),
                direct_expert_profile_id=data.get("expert"),
            )
        except HelpRequest.DoesNotExist:
            raise NotFound("No such help request.") from None
        except ExpertProfile.DoesNotExist:
            raise NotFound("No such expert.") from None
        return _detail(request, help_request, status.HTTP_201_CREATED)


class RequestDetailView(APIView):
    @extend_schema(parameters=[REQUEST_ID], responses={200: HelpRequestDetailSerializer, 404: NOT_FOUND})
    def get(self, request, public_id):
        try:
            help_request = selectors.request_detail_for(user=request.user, request_id=public_id)
        except HelpRequest.DoesNotExist:
            raise NotFound("No such help request.") from None
        notification_services.mark_read_for_subject(user=request.user, subject=help_request)
        return Response(HelpRequestDetailSerializer(help_request, context={"request": request}).data)


class _ActionView(APIView):
    """POST an action on a request; answers the request as it is now."""

    serializer_class: type[serializers.Serializer] | None = None

    def perform(self, request, public_id, data): ...

    def post(self, request, public_id):
        data = {}
        if self.serializer_class is not None:
            serializer = self.serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        try:
            help_request = self.perform(request, public_id, data)
        except HelpRequest.DoesNotExist:
            raise NotFound("No such help request.") from None
        return _detail(request, help_request)


def _action_schema(summary: str, request_serializer=None):
    return extend_schema(
        summary=summary,
        parameters=[REQUEST_ID],
        request=request_serializer,
        responses={200: HelpRequestDetailSerializer, 400: BAD_REQUEST, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )


class AcceptView(_ActionView):
    serializer_class = HelpAcceptSerializer

    @_action_schema(
        "Accept an open request (experts of its category); with start and end, also schedule it",
        HelpAcceptSerializer,
    )
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        return services.accept_help_request(
            expert=request.user, request_id=public_id, start=data.get("start"), end=data.get("end")
        )


class DeclineView(_ActionView):
    serializer_class = HelpNoteSerializer

    @_action_schema(
        "Decline a request asked of me directly: it goes to the category's queue at once", HelpNoteSerializer
    )
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        services.decline_direct_request(expert=request.user, request_id=public_id, note=data.get("note", ""))
        return selectors.request_detail_for(user=request.user, request_id=public_id)


class ReleaseView(_ActionView):
    serializer_class = HelpReleaseSerializer

    @_action_schema("Give an accepted request back to the queue", HelpReleaseSerializer)
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        return services.release_help_request(expert=request.user, request_id=public_id, note=data["note"])


class ScheduleView(_ActionView):
    serializer_class = HelpScheduleSerializer

    @_action_schema("Schedule the session (the meeting is created in the background)", HelpScheduleSerializer)
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        return services.schedule_session(
            expert=request.user, request_id=public_id, start=data["start"], end=data["end"]
        )


class RescheduleView(_ActionView):
    serializer_class = HelpScheduleSerializer

    @_action_schema(
        "Move a scheduled session (a new meeting is created; the requester gets an updated invitation)",
        HelpScheduleSerializer,
    )
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        return services.reschedule_session(
            expert=request.user, request_id=public_id, start=data["start"], end=data["end"]
        )


class MeetingLinkView(_ActionView):
    serializer_class = HelpMeetingLinkSerializer

    @_action_schema("Set a meeting link by hand after the meeting could not be created", HelpMeetingLinkSerializer)
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        return services.set_manual_meeting_link(expert=request.user, request_id=public_id, url=data["url"])


class CompleteView(_ActionView):
    @_action_schema("Mark a scheduled session completed")
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        return services.complete_help_request(expert=request.user, request_id=public_id)


class CancelView(_ActionView):
    serializer_class = HelpNoteSerializer

    @_action_schema("Cancel my request", HelpNoteSerializer)
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        return services.cancel_help_request(requester=request.user, request_id=public_id, note=data.get("note", ""))


class RateView(_ActionView):
    serializer_class = HelpRateSerializer

    @_action_schema("Rate a completed session once (1 to 5 stars)", HelpRateSerializer)
    def post(self, request, public_id):
        return super().post(request, public_id)

    def perform(self, request, public_id, data):
        services.rate_help_request(
            requester=request.user, request_id=public_id, stars=data["stars"], feedback=data.get("feedback", "")
        )
        return selectors.request_detail_for(user=request.user, request_id=public_id)


class QueueView(generics.ListAPIView):
    """Open requests in my approved categories, oldest first (experts only)."""

    serializer_class = HelpRequestSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("category", OpenApiTypes.STR, description="A category slug."),
            OpenApiParameter("q", OpenApiTypes.STR, description="Words in the title or description."),
        ],
        responses={
            200: HelpRequestSerializer(many=True),
            403: refusal_response("Only verified experts have a queue."),
        },
    )
    def get(self, request, *args, **kwargs):
        if not expert_selectors.is_verified_expert(user=request.user):
            raise PermissionDenied("Only verified experts have a queue.")
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.queue_for_expert(
            expert_user=self.request.user,
            category_slug=self.request.query_params.get("category") or None,
            q=(self.request.query_params.get("q") or "")[:120],
        )


class AssignedView(generics.ListAPIView):
    """Requests I hold or held as an expert."""

    serializer_class = HelpRequestSerializer

    def get_queryset(self):
        return selectors.expert_requests(expert_user=self.request.user)


class DocumentDownloadView(APIView):
    @extend_schema(
        parameters=[REQUEST_ID, OpenApiParameter("document_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        responses={
            (200, "*/*"): OpenApiTypes.BINARY,
            404: NOT_FOUND,
        },
        summary="Download a document (attachment, decrypted)",
    )
    def get(self, request, public_id, document_id):
        try:
            document = selectors.document_for(user=request.user, request_id=public_id, document_id=document_id)
        except HelpDocument.DoesNotExist:
            raise NotFound("No such document.") from None
        response = HttpResponse(documents.read_plaintext(document), content_type=document.content_type)
        response["Content-Disposition"] = (
            f'attachment; filename="{get_valid_filename(document.original_name) or "document"}"'
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response
