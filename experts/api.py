"""JSON API of the experts app, under /api/v1/ (see api_urls.py).

`experts/me/` is always the caller's own profile: it carries no id, so nobody can read or change
someone else's application through it. Other experts are visible only once approved.
A rule's refusal is services.ExpertRefusal, answered by config.api.exception_handler in the one
refusal body: 400 for bad input (`errors` names the field), 409 when the current state refuses
it; 404 for what the caller cannot see.
"""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from config.inputs import MAX_ID
from config.schema import refusal_response
from experts import selectors, services
from experts.forms import SEARCH_MAX_LENGTH
from experts.models import Category, ExpertiseAreaRequest, ExpertProfile
from notifications import services as notification_services

NO_SUCH_EXPERT = "No such expert."
NO_PROFILE = "You have not applied to be an expert yet."

# --- Serializers ---------------------------------------------------------------------------------


BAD_REQUEST = refusal_response("Invalid input; `errors` lists it by field.")
NOT_FOUND = refusal_response("No such expert, or not visible to you.")
CONFLICT = refusal_response("The current state refuses it (already applied, …).")
UNAUTHORIZED = refusal_response("Missing or invalid credentials.")


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug", "description"]
        read_only_fields = fields


class ExpertUserSerializer(serializers.Serializer):
    public_id = serializers.UUIDField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    full_name = serializers.CharField(source="get_full_name", read_only=True)
    avatar_url = serializers.SerializerMethodField()

    def get_avatar_url(self, user) -> str | None:
        if not user.avatar:
            return None
        url = user.avatar.url
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url


class ExpertSerializer(serializers.ModelSerializer):
    """An expert as the directory shows them."""

    user = ExpertUserSerializer(read_only=True)
    categories = CategorySerializer(many=True, read_only=True)
    languages = serializers.ListField(child=serializers.CharField(), source="language_list", read_only=True)
    rating_average = serializers.DecimalField(
        max_digits=2, decimal_places=1, read_only=True, allow_null=True, help_text="null until the first rating."
    )

    class Meta:
        model = ExpertProfile
        fields = [
            "id",
            "user",
            "headline",
            "bio",
            "categories",
            "languages",
            "availability_note",
            "rating_average",
            "rating_count",
            "sessions_completed",
        ]
        read_only_fields = fields


class FeedbackSerializer(serializers.Serializer):
    stars = serializers.IntegerField(read_only=True)
    text = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    requester_first_name = serializers.CharField(read_only=True)


class ExpertDetailSerializer(ExpertSerializer):
    recent_feedback = serializers.SerializerMethodField()

    class Meta(ExpertSerializer.Meta):
        fields = [*ExpertSerializer.Meta.fields, "recent_feedback"]
        read_only_fields = fields

    @extend_schema_field(FeedbackSerializer(many=True))
    def get_recent_feedback(self, profile: ExpertProfile) -> list:
        return FeedbackSerializer(selectors.recent_feedback_for(profile=profile), many=True).data


class AreaRequestSerializer(serializers.ModelSerializer):
    """A request for a new area of expertise, as its expert sees it."""

    category = CategorySerializer(read_only=True)
    review_note = serializers.CharField(read_only=True, help_text="Staff's note; why, for a declined request.")

    class Meta:
        model = ExpertiseAreaRequest
        fields = ["id", "category", "motivation", "status", "review_note", "reviewed_at", "created_at"]
        read_only_fields = fields


class AreaRequestCreateSerializer(serializers.Serializer):
    category = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Id of an active category.")
    motivation = serializers.CharField(
        max_length=services.AREA_MOTIVATION_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="Optional: your experience in this area, for staff.",
    )


class MyExpertProfileSerializer(ExpertSerializer):
    """My own profile, with the review: status, the staff note and when it was reviewed, and my
    requests for new areas (pending ones first, then the last decisions)."""

    area_requests = serializers.SerializerMethodField()

    class Meta(ExpertSerializer.Meta):
        fields = [
            *ExpertSerializer.Meta.fields,
            "status",
            "review_note",
            "reviewed_at",
            "created_at",
            "updated_at",
            "area_requests",
        ]
        read_only_fields = fields

    @extend_schema_field(AreaRequestSerializer(many=True))
    def get_area_requests(self, profile: ExpertProfile) -> list:
        return AreaRequestSerializer(selectors.area_requests_for(profile=profile), many=True).data


class ApplicationSerializer(serializers.Serializer):
    headline = serializers.CharField(max_length=services.HEADLINE_MAX)
    bio = serializers.CharField(max_length=services.BIO_MAX)
    categories = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=services.MAX_CATEGORIES,
        help_text="Ids of active categories (GET categories/).",
    )
    languages = serializers.CharField(
        max_length=services.LANGUAGES_MAX, required=False, allow_blank=True, default="", help_text="Comma-separated."
    )
    availability_note = serializers.CharField(
        max_length=services.AVAILABILITY_MAX, required=False, allow_blank=True, default=""
    )

    def service_kwargs(self) -> dict:
        data = dict(self.validated_data)
        if "categories" in data:
            data["category_ids"] = data.pop("categories")
        return data


class DirectoryQuerySerializer(serializers.Serializer):
    category = serializers.SlugField(max_length=80, required=False, default="", allow_blank=True)
    sort = serializers.ChoiceField(choices=list(selectors.SORTS), required=False, default=selectors.SORT_RATING)
    q = serializers.CharField(max_length=SEARCH_MAX_LENGTH, required=False, allow_blank=True, default="")


# --- Views ---------------------------------------------------------------------------------------


@extend_schema(
    tags=["experts"],
    summary="Areas of expertise",
    description="The active categories, by name: for filtering the directory and for applying.",
    responses={200: CategorySerializer(many=True), 401: UNAUTHORIZED},
)
class CategoryListView(generics.ListAPIView):
    serializer_class = CategorySerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.active_categories()


@extend_schema(
    tags=["experts"],
    summary="The expert directory",
    description=(
        "Approved experts. `sort=rating` (default) orders by a weighted average — every expert starts "
        f"with {selectors.PRIOR_WEIGHT} imaginary ratings of {selectors.PRIOR_MEAN} stars, so one 5-star "
        "review does not top the list — then by the number of ratings. `sessions`: most sessions first. "
        "`newest`: most recently approved first."
    ),
    parameters=[DirectoryQuerySerializer],
    responses={200: ExpertSerializer(many=True), 400: BAD_REQUEST, 401: UNAUTHORIZED},
)
class ExpertListView(generics.ListAPIView):
    serializer_class = ExpertSerializer

    def get_queryset(self):
        query = DirectoryQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return selectors.expert_directory(category_slug=data["category"], sort=data["sort"], q=data["q"].strip())


class ExpertDetailView(APIView):
    @extend_schema(
        tags=["experts"],
        summary="An expert's page",
        description="Approved experts only (your own profile in any status). With their recent feedback.",
        responses={200: ExpertDetailSerializer, 404: NOT_FOUND, 401: UNAUTHORIZED},
    )
    def get(self, request, pk: int):
        profile = selectors.expert_detail(pk=pk, viewer=request.user)
        if profile is None:
            raise NotFound(NO_SUCH_EXPERT)
        if profile.user_id == request.user.pk:
            notification_services.mark_read_for_subject(user=request.user, subject=reverse("experts:detail", args=[pk]))
        return Response(ExpertDetailSerializer(profile, context={"request": request}).data)


class MyExpertProfileView(APIView):
    def _mine(self, request) -> ExpertProfile:
        profile = selectors.expert_for_user(user=request.user)
        if profile is None:
            raise NotFound(NO_PROFILE)
        return profile

    def _answer(self, request, code: int = status.HTTP_200_OK) -> Response:
        return Response(MyExpertProfileSerializer(self._mine(request), context={"request": request}).data, status=code)

    @extend_schema(
        tags=["experts"],
        summary="My expert profile and its review status",
        responses={200: MyExpertProfileSerializer, 404: NOT_FOUND, 401: UNAUTHORIZED},
    )
    def get(self, request):
        profile = self._mine(request)
        # The review status is shown: what told the user about it (approved: their expert page;
        # not approved: their own page) is read.
        for subject in (reverse("experts:mine"), reverse("experts:detail", args=[profile.pk])):
            notification_services.mark_read_for_subject(user=request.user, subject=subject)
        return Response(MyExpertProfileSerializer(profile, context={"request": request}).data)

    @extend_schema(
        tags=["experts"],
        summary="Apply to be an expert (or apply again after a rejection)",
        description="201 with the pending application. 409 if you already applied or are an expert.",
        request=ApplicationSerializer,
        responses={201: MyExpertProfileSerializer, 400: BAD_REQUEST, 409: CONFLICT, 401: UNAUTHORIZED},
    )
    def post(self, request):
        serializer = ApplicationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.apply_as_expert(user=request.user, **serializer.service_kwargs())
        return self._answer(request, status.HTTP_201_CREATED)

    @extend_schema(
        tags=["experts"],
        summary="Edit my expert profile",
        description=(
            "Only the fields given change. An approved expert may remove categories but not add new ones "
            "(409 `needs_review`: ask with POST experts/me/area-requests/); a rejected application is "
            "changed by applying again (409 `rejected`)."
        ),
        request=ApplicationSerializer(partial=True),
        responses={200: MyExpertProfileSerializer, 400: BAD_REQUEST, 404: NOT_FOUND, 409: CONFLICT, 401: UNAUTHORIZED},
    )
    def patch(self, request):
        serializer = ApplicationSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            services.update_expert_profile(user=request.user, **serializer.service_kwargs())
        except ExpertProfile.DoesNotExist:
            raise NotFound(NO_PROFILE) from None
        return self._answer(request)


class MyAreaRequestsView(APIView):
    def _mine(self, request) -> ExpertProfile:
        profile = selectors.expert_for_user(user=request.user)
        if profile is None:
            raise NotFound(NO_PROFILE)
        return profile

    @extend_schema(
        tags=["experts"],
        summary="My requests for new areas of expertise",
        description="Pending ones first (oldest first), then the last decisions, newest first.",
        responses={200: AreaRequestSerializer(many=True), 404: NOT_FOUND, 401: UNAUTHORIZED},
    )
    def get(self, request):
        profile = self._mine(request)
        notification_services.mark_read_for_subject(user=request.user, subject=reverse("experts:mine"))
        return Response(AreaRequestSerializer(selectors.area_requests_for(profile=profile), many=True).data)

    @extend_schema(
        tags=["experts"],
        summary="Ask staff for a new area of expertise",
        description=(
            "Approved experts only. 201 with the pending request, which staff approve (the category is "
            "added) or decline with a reason; you are notified either way. 400 `invalid_category` for an "
            "unknown or closed category; 409 `not_approved` (a pending application edits its categories "
            "with PATCH experts/me/), `already_has_area`, `already_requested`, or `too_many_areas` "
            f"(at most {services.MAX_CATEGORIES} areas, counting pending requests)."
        ),
        request=AreaRequestCreateSerializer,
        responses={201: AreaRequestSerializer, 400: BAD_REQUEST, 404: NOT_FOUND, 409: CONFLICT, 401: UNAUTHORIZED},
    )
    def post(self, request):
        serializer = AreaRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            area_request = services.request_expertise_area(
                user=request.user,
                category_id=serializer.validated_data["category"],
                motivation=serializer.validated_data["motivation"],
            )
        except ExpertProfile.DoesNotExist:
            raise NotFound(NO_PROFILE) from None
        return Response(AreaRequestSerializer(area_request).data, status=status.HTTP_201_CREATED)
