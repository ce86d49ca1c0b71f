"""JSON API of the accounts app (DRF + simplejwt): register, tokens, logout, me, live tickets."""

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts import live_access, selectors, services, views
from accounts.models import User
from config.api import error


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


BAD_REQUEST = OpenApiResponse(ValidationErrorSerializer, description="Invalid input; `errors` lists it by field.")
UNAUTHORIZED = OpenApiResponse(DetailSerializer, description="Missing, invalid, expired or revoked credentials.")
TOO_MANY = OpenApiResponse(DetailSerializer, description="Too many attempts; see Retry-After.")


class UserSerializer(serializers.ModelSerializer):
    """A user's own account as the API shows and edits it."""

    interest_list = serializers.ListField(child=serializers.CharField(), read_only=True)
    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "public_id",
            "email",
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
        read_only_fields = ["public_id", "date_joined"]

    def get_avatar_url(self, user: User) -> str | None:
        if not user.avatar:
            return None
        url = user.avatar.url
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url

    def validate_email(self, value: str) -> str:
        email = services.normalize_email(value)
        if selectors.email_in_use(email=email, exclude_user=self.instance):
            raise serializers.ValidationError(services.EMAIL_TAKEN)
        return email


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})
    first_name = serializers.CharField(max_length=80)
    last_name = serializers.CharField(max_length=80)
    university = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    course = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")

    def validate_email(self, value: str) -> str:
        email = services.normalize_email(value)
        if selectors.email_in_use(email=email):
            raise serializers.ValidationError(services.EMAIL_TAKEN)
        return email


class TokenPairSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField()


class RegisteredSerializer(TokenPairSerializer):
    user = UserSerializer()


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
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        return services.issue_api_tokens(user=self.user)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class PasswordChangeSerializer(serializers.Serializer):
    current_password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})
    new_password = serializers.CharField(write_only=True, max_length=4096, style={"input_type": "password"})

    def validate_current_password(self, value: str) -> str:
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError("Your current password was entered incorrectly.")
        return value


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
    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "register"

    @extend_schema(
        tags=["auth"],
        summary="Create an account",
        request=RegisterSerializer,
        responses={201: RegisteredSerializer, 400: BAD_REQUEST, 429: TOO_MANY},
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.register_user(**serializer.validated_data)
        body = {"user": UserSerializer(user, context={"request": request}).data, **services.issue_api_tokens(user=user)}
        return Response(body, status=status.HTTP_201_CREATED)


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
            # django-axes flags the request it was given (DRF's) when the client is locked out.
            if getattr(request, "axes_locked_out", False):
                return views.lockout(request._request)
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
        responses={200: PasswordChangedSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED},
    )
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = services.change_password(user=request.user, new_password=serializer.validated_data["new_password"])
        body = {
            "detail": "Your password has been changed. Every other session and token has been revoked.",
            **services.issue_api_tokens(user=user),
        }
        return Response(body)


class MeView(APIView):
    @extend_schema(tags=["me"], summary="My account", responses={200: UserSerializer, 401: UNAUTHORIZED})
    def get(self, request):
        return Response(UserSerializer(request.user, context={"request": request}).data)

    @extend_schema(
        tags=["me"],
        summary="Update my profile",
        request=UserSerializer,
        responses={200: UserSerializer, 400: BAD_REQUEST, 401: UNAUTHORIZED},
    )
    def patch(self, request):
        serializer = UserSerializer(request.user, data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = services.update_profile(user=request.user, **serializer.validated_data)
        return Response(UserSerializer(user, context={"request": request}).data)


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
            return error("Choose an image file to upload in the `avatar` field.")
        try:
            user = services.set_avatar(user=request.user, upload=upload)
        except ValidationError as exc:
            raise ValidationError({"avatar": exc.messages}) from exc
        return Response(UserSerializer(user, context={"request": request}).data)

    @extend_schema(tags=["me"], summary="Remove my profile picture", responses={200: UserSerializer, 401: UNAUTHORIZED})
    def delete(self, request):
        user = services.remove_avatar(user=request.user)
        return Response(UserSerializer(user, context={"request": request}).data)


class LiveTicketView(APIView):
    """API clients open /ws/live/ with a short single-use ticket, never their JWT in a URL."""

    authentication_classes = [JWTAuthentication]

    @extend_schema(
        tags=["live"],
        summary="A single-use ticket to open the live socket",
        request=None,
        responses={200: LiveTicketSerializer, 401: UNAUTHORIZED},
    )
    def post(self, request):
        login = request.auth.get(live_access.LOGIN_CLAIM) if request.auth is not None else None
        ticket = services.issue_live_ticket(user=request.user, login=login)
        return Response(
            {"ticket": ticket, "expires_in": settings.LIVE_TICKET_SECONDS, "url": f"/ws/live/?ticket={ticket}"}
        )
