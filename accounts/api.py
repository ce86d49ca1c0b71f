"""JSON API of the accounts app (DRF + simplejwt): register, tokens, logout, me, the login address,
live tickets."""

import zoneinfo

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotFound, Throttled
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import data_export, deletion, ratelimits, selectors, services, views
from accounts.authentication import LoginJWTAuthentication
from accounts.models import STUDY_NAME_MAX_LENGTH, Course, DataExport, University, User, validate_time_zone
from accounts.views import data_export_response
from config.api import error
from config.schema import refusal_response
from live import access as live_access
from notifications import services as notification_services


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


BAD_REQUEST = refusal_response("Invalid input; `errors` lists it by field.")
UNAUTHORIZED = refusal_response("Missing, invalid, expired or revoked credentials.")
TOO_MANY = refusal_response("Too many attempts; see Retry-After.")
NOT_FOUND = refusal_response("No such resource.")
# config.unavailable: what cannot be done without the cache (Redis) while it is down.
UNAVAILABLE = refusal_response("Unavailable for a moment (code `unavailable`); see Retry-After.")


TIME_ZONES = sorted(zoneinfo.available_timezones())


# The zones as a plain enum: a choice component would repeat each of the ~600 names in its description.
@extend_schema_field({"type": "string", "enum": TIME_ZONES})
class TimeZoneField(serializers.ChoiceField):
    """An IANA zone of the tz database this process runs with (the schema lists them)."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text", "The user's IANA time zone (e.g. Europe/Rome); times in e-mails and pages are shown in it."
        )
        kwargs.setdefault("error_messages", {"invalid_choice": "{input} is not a known time zone."})
        super().__init__(choices=TIME_ZONES, validators=[validate_time_zone], **kwargs)


class UserSerializer(serializers.ModelSerializer):
    """A user's own account as the API shows and edits it."""

    time_zone = TimeZoneField(required=False)

    interest_list = serializers.ListField(child=serializers.CharField(), read_only=True)
    avatar_url = serializers.SerializerMethodField()
    email_verified = serializers.BooleanField(
        source="is_email_verified", read_only=True, help_text="Until true, the account cannot contact anyone."
    )
    pending_email = serializers.SerializerMethodField(
        help_text="A new login address waiting for its link to be followed, or null."
    )

    class Meta:
        model = User
        fields = [
            "public_id",
            "email",
            "email_verified",
            "pending_email",
            "first_name",
            "last_name",
            "university",
            "course",
            "bio",
            "interests",
            "interest_list",
            "time_zone",
            "avatar_url",
            "date_joined",
        ]
        # The login address changes only through POST /api/v1/me/email/ (password + link).
        read_only_fields = ["public_id", "email", "date_joined"]

    def get_avatar_url(self, user: User) -> str | None:
        if not user.avatar:
            return None
        url = user.avatar.url
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url

    def get_pending_email(self, user: User) -> str | None:
        return user.pending_email or None


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})
    first_name = serializers.CharField(max_length=80)
    last_name = serializers.CharField(max_length=80)
    university = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    course = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    time_zone = TimeZoneField(required=False, default=settings.TIME_ZONE)

    def validate_email(self, value: str) -> str:
        # Never "this address is taken": the answer is the same either way (services.register_user).
        return services.normalize_email(value)


class UniversitySerializer(serializers.ModelSerializer):
    class Meta:
        model = University
        fields = ["id", "name"]
        read_only_fields = fields


class CourseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "name"]
        read_only_fields = fields


class StudyQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=STUDY_NAME_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Part of the name, ignoring case, accents and punctuation; names starting with it come first.",
    )


class TokenPairSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField()


class EmailChangeSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="The new login address.")
    current_password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})


class EmailChangeRequestedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    pending_email = serializers.EmailField()


class EmailConfirmSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000, help_text="The token of the link sent by e-mail.")


class EmailConfirmedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    email = serializers.EmailField(help_text="The address now confirmed (the login address).")


class EmailTokenObtainPairSerializer(TokenObtainPairSerializer):
    """simplejwt's pair serializer, authenticating through django.contrib.auth.authenticate with
    the address as `username` (lower-cased), so django-axes counts failures per address."""

    def validate(self, attrs):
        self.user = authenticate(
            request=self.context.get("request"),
            username=attrs[self.username_field].strip().lower(),
            password=attrs["password"],
        )
        if not jwt_settings.USER_AUTHENTICATION_RULE(self.user):
            request = self.context.get("request")
            if not getattr(request, "axes_locked_out", False) and deletion.restorable_account(
                email=attrs[self.username_field], password=attrs["password"]
            ):
                # The right password of an account closed for deletion: say how to restore it.
                raise AuthenticationFailed(deletion.CLOSED_ACCOUNT_MESSAGE, "account_closed")
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        return services.issue_api_tokens(user=self.user)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class PasswordChangeSerializer(serializers.Serializer):
    current_password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})
    new_password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})


class PasswordChangedSerializer(TokenPairSerializer):
    detail = serializers.CharField()


class AvatarUploadSerializer(serializers.Serializer):
    avatar = serializers.FileField(help_text="JPEG, PNG, WEBP or GIF; cropped to a square and re-encoded.")


class LiveTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid; it works once.")
    url = serializers.CharField(help_text="Path of the live socket with the ticket.")


# --- Views -------------------------------------------------------------------------------------


class RegisterView(APIView):
    """Sign up. The answer is the same whether or not the address already has an account (its
    owner is told by e-mail instead); log in with POST auth/token/ afterwards."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = [ratelimits.SignUpThrottle]

    def throttled(self, request, wait):
        raise Throttled(wait, detail=ratelimits.SIGN_UP_LIMITED_MESSAGE)

    @extend_schema(
        tags=["auth"],
        summary="Create an account (its address is confirmed by a link sent to it)",
        request=RegisterSerializer,
        responses={202: DetailSerializer, 400: BAD_REQUEST, 429: TOO_MANY, 503: UNAVAILABLE},
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.register_user(**serializer.validated_data)
        return Response({"detail": services.SIGN_UP_SENT_MESSAGE}, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=["auth"],
    summary="The universities students have named (for the sign-up and profile fields)",
    description=(
        "Register and `PATCH me/` take any university name; one that matches an entry here (ignoring "
        "case, accents and punctuation) is stored with the entry's spelling, a new one is added."
    ),
    parameters=[StudyQuerySerializer],
    responses={200: UniversitySerializer(many=True), 400: BAD_REQUEST},
)
class UniversityListView(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]  # sign-up clients are not logged in yet
    serializer_class = UniversitySerializer

    def get_queryset(self):
        text = _study_query(self.request)
        return selectors.prefix_first(selectors.universities_matching(text), text=text)


@extend_schema(
    tags=["auth"],
    summary="The courses of one university",
    parameters=[StudyQuerySerializer],
    responses={200: CourseSerializer(many=True), 400: BAD_REQUEST, 404: NOT_FOUND},
)
class CourseListView(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = CourseSerializer

    def get_queryset(self):
        text = _study_query(self.request)
        university = University.objects.filter(pk=self.kwargs["pk"]).first()
        if university is None:
            raise NotFound("No such university.")
        return selectors.prefix_first(selectors.courses_matching(text).filter(university=university), text=text)


def _study_query(request) -> str:
    serializer = StudyQuerySerializer(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["q"]


class TokenObtainView(TokenObtainPairView):
    serializer_class = EmailTokenObtainPairSerializer

    @extend_schema(
        tags=["auth"],
        summary="Log in: exchange e-mail and password for a token pair",
        responses={200: TokenPairSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED, 429: TOO_MANY},
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except AuthenticationFailed:
            # django-axes flags the request it was given (DRF's) when the client is locked out;
            # DRF's Request passes every HttpRequest attribute through to the one it wraps.
            if getattr(request, "axes_locked_out", False):
                return views.lockout(request)
            raise
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class TokenRefreshRotateView(TokenRefreshView):
    @extend_schema(
        tags=["auth"],
        summary="Exchange a refresh token for a new pair (the old one is blacklisted)",
        responses={200: TokenPairSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED},
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        summary="Log out: blacklist a refresh token",
        request=LogoutSerializer,
        responses={200: DetailSerializer, 400: BAD_REQUEST},
    )
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.blacklist_refresh_token(refresh=serializer.validated_data["refresh"])
        return Response({"detail": "Logged out."})


class PasswordChangeView(APIView):
    @extend_schema(
        tags=["auth"],
        summary="Change the password; every other session and token is revoked",
        request=PasswordChangeSerializer,
        responses={200: PasswordChangedSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED, 429: TOO_MANY},
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        services.check_current_password(
            request=request, user=request.user, password=serializer.validated_data["current_password"]
        )
        user = services.change_password(user=request.user, new_password=serializer.validated_data["new_password"])
        body = {
            "detail": "Your password has been changed. Every other session and token has been revoked.",
            **services.issue_api_tokens(user=user),
        }
        return Response(body)


class MeView(APIView):
    @extend_schema(tags=["me"], summary="My account", responses={200: UserSerializer, 401: UNAUTHORIZED})
    def get(self, request):
        # The profile and the login address are shown: the welcome that asked to complete the
        # profile, and the notices asking to confirm an address, are read.
        for subject in (reverse("accounts:profile_edit"), reverse("accounts:email")):
            notification_services.mark_read_for_subject(user=request.user, subject=subject)
        return Response(UserSerializer(request.user, context={"request": request}).data)

    @extend_schema(
        tags=["me"],
        summary="Update my profile",
        request=UserSerializer,
        responses={200: UserSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED},
    )
    def patch(self, request):
        if "email" in request.data:  # read-only here; refused aloud rather than silently ignored
            return Response(
                {
                    "detail": "Please correct the errors below.",
                    "code": "email_read_only",
                    "errors": {"email": [EMAIL_NOT_HERE]},
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = UserSerializer(request.user, data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = services.update_profile(user=request.user, **serializer.validated_data)
        return Response(UserSerializer(user, context={"request": request}).data)


EMAIL_NOT_HERE = (
    "The login address is changed with POST /api/v1/me/email/ (it needs your current password, "
    "and a link sent to the new address)."
)


class EmailChangeView(APIView):
    @extend_schema(
        tags=["me"],
        summary="Ask to change my login address: a link goes to the new one, my current one is told",
        request=EmailChangeSerializer,
        responses={202: EmailChangeRequestedSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED, 429: TOO_MANY},
    )
    def post(self, request):
        serializer = EmailChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.request_email_change(
            request=request,
            user=request.user,
            new_email=serializer.validated_data["email"],
            current_password=serializer.validated_data["current_password"],
        )
        pending = services.normalize_email(serializer.validated_data["email"])
        return Response(
            {
                "detail": f"We sent a link to {pending}. Your login address changes when it is followed.",
                "pending_email": pending,
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        tags=["me"],
        summary="Cancel a pending change of login address",
        request=None,
        responses={200: UserSerializer, 401: UNAUTHORIZED},
    )
    def delete(self, request):
        user = services.cancel_email_change(user=request.user)
        return Response(UserSerializer(user, context={"request": request}).data)


class EmailVerificationView(APIView):
    @extend_schema(
        tags=["me"],
        summary="Send the link that confirms my address again",
        request=None,
        responses={
            202: DetailSerializer,
            401: UNAUTHORIZED,
            409: refusal_response("The address is already confirmed."),
            429: TOO_MANY,
        },
    )
    def post(self, request):
        services.send_verification_email(user=request.user)
        return Response({"detail": f"We sent a new link to {request.user.email}."}, status=status.HTTP_202_ACCEPTED)


class EmailConfirmView(APIView):
    """Follow a confirmation link from an API client: the token is the last part of the link."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        summary="Confirm an address (sign-up) or a new login address (change) with the e-mailed token",
        request=EmailConfirmSerializer,
        responses={200: EmailConfirmedSerializer, 400: BAD_REQUEST},
    )
    def post(self, request):
        serializer = EmailConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        claim = services.confirm_email(token=serializer.validated_data["token"])
        done = "You now log in with this address." if claim.purpose == "change" else "Your address is confirmed."
        return Response({"detail": done, "email": claim.email})


class AvatarView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=["me"],
        summary="Upload my profile picture",
        request={"multipart/form-data": AvatarUploadSerializer},
        responses={200: UserSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED},
    )
    def post(self, request):
        upload = request.FILES.get("avatar")
        if not upload:
            return error("Choose an image file to upload in the `avatar` field.", code="required")
        try:
            user = services.set_avatar(user=request.user, upload=upload)
        except ValidationError as exc:
            raise ValidationError({"avatar": exc.error_list}) from exc
        return Response(UserSerializer(user, context={"request": request}).data)

    @extend_schema(tags=["me"], summary="Remove my profile picture", responses={200: UserSerializer, 401: UNAUTHORIZED})
    def delete(self, request):
        user = services.remove_avatar(user=request.user)
        return Response(UserSerializer(user, context={"request": request}).data)


class LiveTicketView(APIView):
    """API clients open /ws/live/ with a short single-use ticket, never their JWT in a URL."""

    authentication_classes = [LoginJWTAuthentication]

    @extend_schema(
        tags=["live"],
        summary="A single-use ticket to open the live socket",
        request=None,
        responses={200: LiveTicketSerializer, 401: UNAUTHORIZED, 503: UNAVAILABLE},
    )
    def post(self, request):
        login = request.auth.get(live_access.LOGIN_CLAIM) if request.auth is not None else None
        ticket = services.issue_live_ticket(user=request.user, login=login)
        return Response(
            {"ticket": ticket, "expires_in": settings.LIVE_TICKET_SECONDS, "url": f"/ws/live/?ticket={ticket}"}
        )


# --- Closing the account, restoring it, and "download my data" --------------------------------


class AccountDeletionSerializer(serializers.Serializer):
    current_password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})


class AccountDeletedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    erase_after = serializers.DateTimeField(
        help_text="When the personal data is erased; until then it can be restored."
    )


class AccountRestoreSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})


class AccountRestoredSerializer(TokenPairSerializer):
    detail = serializers.CharField()


class AccountDeletionView(APIView):
    @extend_schema(
        tags=["me"],
        summary="Delete my account: it is closed at once and erased after the grace period",
        description=(
            "Needs the current password (counted by the login throttle). The account is deactivated at once: every "
            "token, session and live socket ends, held help requests are released and open ones cancelled, and a "
            "confirmation e-mail is sent. Until `erase_after`, POST auth/restore/ with the e-mail address and "
            "password restores it; then its personal data is erased (docs/privacy.md)."
        ),
        request=AccountDeletionSerializer,
        responses={202: AccountDeletedSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED, 429: TOO_MANY},
    )
    def post(self, request):
        serializer = AccountDeletionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = deletion.request_account_deletion(
            request=request, user=request.user, password=serializer.validated_data["current_password"]
        )
        return Response(
            {
                "detail": "Your account is closed and you are signed out everywhere. Sign in again before "
                "erase_after to restore it.",
                "erase_after": deletion.erase_after(user),
            },
            status=status.HTTP_202_ACCEPTED,
        )


class AccountRestoreView(APIView):
    """Restore an account closed for deletion, within its grace period, with its e-mail and password."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        summary="Restore my account during its deletion grace period (answers a fresh token pair)",
        request=AccountRestoreSerializer,
        responses={200: AccountRestoredSerializer, 400: BAD_REQUEST, 429: TOO_MANY},
    )
    def post(self, request):
        serializer = AccountRestoreSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = deletion.restore_account_with_password(
            request=request,
            email=serializer.validated_data["email"],
            password=serializer.validated_data["password"],
        )
        return Response({"detail": "Your account is restored.", **services.issue_api_tokens(user=user)})


class DataExportSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    download_url = serializers.SerializerMethodField(
        help_text="Where the zip is downloaded (by its owner only) while it is ready; null otherwise."
    )

    class Meta:
        model = DataExport
        fields = ["id", "status", "requested_at", "ready_at", "expires_at", "size", "error", "download_url"]
        read_only_fields = fields

    def get_download_url(self, export: DataExport) -> str | None:
        if not export.is_downloadable:
            return None
        return reverse("api:me_data_export_download", kwargs={"export_id": export.public_id})


class DataExportsView(APIView):
    @extend_schema(
        tags=["me"], summary="My data exports, newest first", responses={200: DataExportSerializer(many=True)}
    )
    def get(self, request):
        notification_services.mark_read_for_subject(user=request.user, subject=reverse("accounts:privacy"))
        exports = selectors.data_exports_for(user=request.user)
        return Response(DataExportSerializer(exports, many=True).data)

    @extend_schema(
        tags=["me"],
        summary="Ask for a zip of all my data (built in the background; I am told when it is ready)",
        request=None,
        responses={202: DataExportSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED},
    )
    def post(self, request):
        export = data_export.request_data_export(user=request.user)
        export.refresh_from_db()  # eager Celery may have built it already
        return Response(DataExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class DataExportDownloadView(APIView):
    @extend_schema(
        tags=["me"],
        summary="Download one of my data exports (a zip)",
        responses={
            (200, "application/zip"): OpenApiResponse(description="The zip archive."),
            401: UNAUTHORIZED,
            404: refusal_response("Not yours, expired or unknown."),
        },
    )
    def get(self, request, export_id):
        try:
            export = selectors.downloadable_export(user=request.user, export_id=export_id)
        except DataExport.DoesNotExist:
            raise Http404 from None
        return data_export_response(export)
