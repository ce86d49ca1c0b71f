"""Notifications over the JSON API (/api/v1/notifications/…). Only ever the caller's own."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from config.schema import refusal_response
from notifications import selectors, services
from notifications.models import Notification, NotificationKind, choosable_kinds

TAGS = ["notifications"]


class NotificationSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    read = serializers.BooleanField(source="is_read", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "kind_display", "title", "body", "url", "created_at", "read_at", "read"]
        read_only_fields = fields


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField(min_value=0)


class MarkAllReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(min_value=0, help_text="How many notifications were unread before.")
    unread = serializers.IntegerField(min_value=0)


# The kinds one may choose for are a fixed list: the schema names them, and no other key.
@extend_schema_field(
    {
        "type": "object",
        "properties": {kind: {"type": "boolean"} for kind in choosable_kinds()},
        "additionalProperties": False,
    }
)
class EmailChoicesField(serializers.DictField):
    """Kind → e-mail on/off; the service refuses a kind not in choosable_kinds()."""


class PreferencesSerializer(serializers.Serializer):
    """`email` maps each notification kind to whether it also sends an e-mail."""

    email = EmailChoicesField(
        child=serializers.BooleanField(),
        help_text=f"Kind → e-mail on/off. Kinds: {', '.join(choosable_kinds())}. "
        "On PUT, kinds left out keep their current choice.",
    )

    def validate_email(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(NotificationKind.values))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown notification kind(s): {', '.join(unknown)}.", code="unknown_kind"
            )
        return value


class UnreadFilterSerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)


class NotificationListView(generics.ListAPIView):
    serializer_class = NotificationSerializer

    @extend_schema(
        tags=TAGS,
        summary="List my notifications, newest first",
        parameters=[OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread ones (1/true or 0/false).")],
    )
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        # Shown now (as they were, unread ones included): those without a link are read.
        services.mark_read_for_subject(user=request.user, subject="")
        return response

    def get_queryset(self):
        params = UnreadFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return selectors.notifications_for(user=self.request.user, unread_only=params.validated_data["unread"])


def _mark_read_or_404(*, user, notification_id: int) -> Notification:
    try:
        return services.mark_read(user=user, notification_id=notification_id)
    except Notification.DoesNotExist:
        raise NotFound("No such notification.") from None


class MarkReadView(APIView):
    @extend_schema(
        tags=TAGS,
        summary="Mark one of my notifications read",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Notification id.")],
        request=None,
        responses={200: NotificationSerializer, 404: refusal_response("Not yours or not there.")},
    )
    def post(self, request, id: int):  # the path parameter keeps its public name
        notification = _mark_read_or_404(user=request.user, notification_id=id)
        return Response(NotificationSerializer(notification).data)


class MarkAllReadView(APIView):
    @extend_schema(tags=TAGS, summary="Mark all my notifications read", request=None, responses=MarkAllReadSerializer)
    def post(self, request):
        marked = services.mark_all_read(user=request.user)
        return Response({"marked": marked, "unread": 0})


class UnreadCountView(APIView):
    @extend_schema(tags=TAGS, summary="How many of my notifications are unread", responses=UnreadCountSerializer)
    def get(self, request):
        return Response({"unread": selectors.unread_count(user=request.user)})


class PreferencesView(APIView):
    @extend_schema(tags=TAGS, summary="My e-mail preferences per notification kind", responses=PreferencesSerializer)
    def get(self, request):
        return Response({"email": selectors.email_preferences_for(user=request.user)})

    @extend_schema(
        tags=TAGS,
        summary="Change my e-mail preferences",
        request=PreferencesSerializer,
        responses={
            200: PreferencesSerializer,
            400: refusal_response("Unknown kind or not a boolean."),
        },
    )
    def put(self, request):
        serializer = PreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            choices = services.set_email_preferences(user=request.user, kinds=serializer.validated_data["email"])
        except DjangoValidationError as exc:
            # the service names its input `kinds`; here it is the body's `email`
            raise DjangoValidationError(
                {"email": [error for errors in exc.error_dict.values() for error in errors]}
            ) from None
        return Response({"email": choices}, status=status.HTTP_200_OK)
