"""The IDOR matrix: every route of the URLconf, every method it serves, as owner, other user,
non-member, deactivated user and anonymous caller, generated from Django's resolver.

A route is checked by what ACCESS says it is, and a route ACCESS does not name is taken to be
the owner's: so a new route that forgets its permission check fails here without anyone writing
a test for it. For each route the world (tests/security/world.py) fills every path value; a
route with a value nobody maps fails test_every_route_argument_is_mapped.

What is asserted, for everyone but the entitled person:
- no answer is a server error, and no answer (body or Location) holds any of the owner's
  secrets (world.SECRET);
- on the owner's routes the answer for the owner's object is the answer for an object that
  does not exist (the same status, the same JSON): a 404 or 403, never the object, and no
  different answer (409, 400, 200) that would tell the object exists; nothing of the owner's
  changes;
- anonymous and deactivated callers are sent to the login page (HTML) or get 401/403 (API),
  except on the public routes;
- only staff reach the admin.
And for the entitled person, a GET reaches the object (so the matrix tests something real).
"""

import hashlib
import uuid

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import DataExport
from chat.models import Attachment, Conversation, Membership, Message, Reaction
from experts.models import ExpertProfile
from helpdesk.models import HelpDocument, HelpRequest
from notifications.models import Notification
from social.models import Block, FriendRequest, Friendship
from tests.security.routes import Route, all_routes
from tests.security.world import SECRET, UNKNOWN_ID, UNKNOWN_UUID, World, build_world

pytestmark = pytest.mark.django_db

# --- what each path value names ------------------------------------------------------------------

# URL name -> {kwarg: world value}, where a kwarg means something else than below.
ROUTE_ARGUMENTS: dict[str, dict[str, str]] = {
    "notifications:read": {"pk": "notification"},
    "notifications:open": {"pk": "notification"},
    "api:notification-read": {"id": "notification"},
    "social:cancel_request": {"pk": "request_sent"},
    "social:accept_request": {"pk": "request_received"},
    "social:decline_request": {"pk": "request_received"},
    "api:social-friend-request-cancel": {"pk": "request_sent"},
    "api:social-friend-request-accept": {"pk": "request_received"},
    "api:social-friend-request-decline": {"pk": "request_received"},
    "experts:detail": {"pk": "expert_profile"},
    "api:university_courses": {"pk": "university"},
    "api:experts-detail": {"pk": "expert_profile"},
    "api:chat-message": {"pk": "message"},
    "api:chat-message-reactions": {"pk": "message"},
    "api:chat-attachment": {"pk": "attachment"},
    "chat:direct": {"public_id": "owner"},
    "helpdesk:queue_row": {"public_id": "open_help_request"},
    "helpdesk:ask_expert": {"pk": "expert_profile"},
}
# (app, kwarg) -> world value: what a kwarg names in one app's routes.
APP_ARGUMENTS: dict[tuple[str, str], str] = {
    ("chat", "pk"): "group",
    ("chat", "public_id"): "friend",  # a member of the owner's group
    ("helpdesk", "public_id"): "help_request",
    ("social", "public_id"): "owner",
    ("accounts", "public_id"): "owner",
}
# kwarg -> world value, wherever it appears.
ARGUMENTS: dict[str, str] = {
    "attachment_id": "attachment",
    "message_id": "message",
    "document_id": "document",
    "meeting_id": "meeting",
    "uidb64": "reset_uid",
    "token": "reset_token",
    "export_id": "data_export",
}
# The admin's own path values: any value reaches its staff check first.
ADMIN_ARGUMENTS = {
    "report_id": "1",
    "file_id": "1",
    "object_id": "1",
    "content_type_id": "1",
    "app_label": "accounts",
    "url": "nothing/",
    "id": "1",
}
MEDIA_ARGUMENTS = {"path": "avatars/nothing.webp"}

# --- who may see what ------------------------------------------------------------------------------

OWNER = "owner"  # the owner's (or, with ENTITLED, that person's): the default
SIGNED_IN = "signed-in"  # any signed-in user sees it (their own lists, people's and experts' pages)
ACTS_ON_PERSON = "acts-on-person"  # any signed-in user may do it to a person (befriend, block, …)
PUBLIC = "public"  # no sign-in needed
STAFF = "staff"  # staff only

ACCESS: dict[str, str] = {
    # a person's public page, and the old address that redirects to it
    "social:profile": SIGNED_IN,
    "accounts:profile": PUBLIC,  # a redirect to social:profile, which checks
    "experts:detail": SIGNED_IN,
    "api:experts-detail": SIGNED_IN,
    # things any student may do to another
    "social:send_request": ACTS_ON_PERSON,
    "social:unfriend": ACTS_ON_PERSON,
    "social:block": ACTS_ON_PERSON,
    "social:unblock": ACTS_ON_PERSON,
    "social:report": ACTS_ON_PERSON,
    "chat:direct": ACTS_ON_PERSON,
    "helpdesk:ask_expert": ACTS_ON_PERSON,  # address a help request to an expert (their page's button)
    "chat:report_person": ACTS_ON_PERSON,
    "api:social-friend": ACTS_ON_PERSON,
    "api:social-block": ACTS_ON_PERSON,
    # the reset link mailed to the owner works for whoever holds it (that is what it is)
    "accounts:password_reset_confirm": PUBLIC,
    # so does the e-mail confirmation link (a bad token is a 400 whoever asks)
    "accounts:email_confirm": PUBLIC,
    # the university and course lists that sign-up offers (names students typed, no person)
    "api:university_courses": PUBLIC,
    "media": PUBLIC,  # avatars: re-encoded images with random names (settings: local storage only)
}
# Routes whose entitled person is not the owner.
ENTITLED: dict[str, str] = {"helpdesk:queue_row": "expert"}
NON_OWNERS = ("other", "non_member", "deactivated", "anonymous")
API_METHODS = ("get", "post", "put", "patch", "delete")


def route_id(route: Route) -> str:
    return route.name or ("media" if route.template.startswith("media/") else route.template)


def access_of(route: Route) -> str:
    if route.is_admin or route.template.startswith("admin/"):
        return PUBLIC if route.name in {"admin:login", "admin:logout"} else STAFF
    if route_id(route) in ACCESS:
        return ACCESS[route_id(route)]
    if not route.parameters:
        return PUBLIC if _is_public_view(route) else SIGNED_IN
    return OWNER


def _is_public_view(route: Route) -> bool:
    """Argument-free routes anyone may open: the site's front door, sign-up/in and the API's
    authentication and documentation. Every other one must refuse an anonymous caller."""
    return route_id(route) in {
        "home",
        "healthz",
        "readyz",
        "favicon.ico",
        "accounts:register",
        "accounts:login",
        "accounts:logout",
        "accounts:password_reset",
        "accounts:password_reset_done",
        "accounts:password_reset_complete",
        "accounts:register_sent",
        "accounts:university_options",
        "accounts:course_options",
        "accounts:deleted",
        "accounts:restore",
        "api:register",
        "api:universities",
        "api:account_restore",
        "api:email_confirm",
        "api:token_obtain_pair",
        "api:token_refresh",
        "api:logout",
        "api:schema",
        "api:docs",
        "api:redoc",
    }


def argument_name(route: Route, kwarg: str) -> str | None:
    namespace = (route.name or "").partition(":")[0] if ":" in (route.name or "") else ""
    app = namespace if namespace and namespace != "api" else route.module.split(".")[0]
    return (
        ROUTE_ARGUMENTS.get(route.name or "", {}).get(kwarg) or APP_ARGUMENTS.get((app, kwarg)) or ARGUMENTS.get(kwarg)
    )


def path_for(route: Route, world: World | None, *, unknown: bool = False) -> str:
    values = {}
    for kwarg, converter in route.parameters:
        if route.is_admin or route.template.startswith("admin/"):
            values[kwarg] = ADMIN_ARGUMENTS[kwarg]
        elif route.template.startswith("media/"):
            values[kwarg] = MEDIA_ARGUMENTS[kwarg]
        elif unknown:
            values[kwarg] = UNKNOWN_ID if converter == "id" else UNKNOWN_UUID if converter == "uuid" else "unknown"
        else:
            values[kwarg] = world.values[argument_name(route, kwarg)]
    return route.path(values)


def methods_of(route: Route) -> list[str]:
    view_class = getattr(route.callback, "cls", None) or getattr(route.callback, "view_class", None)
    if view_class is not None:
        return [method for method in API_METHODS if hasattr(view_class, method)]
    return ["get", "post"]


# --- requests --------------------------------------------------------------------------------------


def client_for(world: World, role: str) -> Client:
    """This world's test client for a role, with the session it got while the person was active
    (the deactivated one keeps it); anonymous has none."""
    if role not in world.clients:
        client = Client(raise_request_exception=False)
        if role in world.sessions:
            client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
        world.clients[role] = client
    return world.clients[role]


def call(world: World, role: str, route: Route, method: str, path: str):
    if route.is_api:
        client = Client(raise_request_exception=False)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {world.tokens[role]}"} if role in world.tokens else {}
        if method in {"get", "delete"}:
            return getattr(client, method)(path, **headers)
        return getattr(client, method)(path, data="{}", content_type="application/json", **headers)
    return getattr(client_for(world, role), method)(path)


def leaked(answer) -> bool:
    return SECRET in answer.content.decode("utf-8", "replace") or SECRET in answer.get("Location", "")


def refused_anonymous(route: Route, answer) -> bool:
    # The API, and JSON endpoints of the pages' scripts (nav badges), refuse with 401/403.
    if route.is_api or answer.get("Content-Type", "").startswith("application/json"):
        return answer.status_code in {401, 403}
    login = reverse("admin:login") if access_of(route) == STAFF else reverse(settings.LOGIN_URL)
    return answer.status_code == 302 and answer["Location"].startswith(login)


def same_answer(one, two) -> bool:
    if one.status_code != two.status_code:
        return False
    if one.get("Content-Type", "").startswith("application/json"):
        return one.json() == two.json()
    return True


def owners_state() -> str:
    """A digest of every row the owner's routes could change."""
    digest = hashlib.sha256()
    for model in (
        Conversation,
        Membership,
        Message,
        Attachment,
        Reaction,
        FriendRequest,
        Friendship,
        Block,
        HelpRequest,
        HelpDocument,
        Notification,
        ExpertProfile,
    ):
        for row in model.objects.order_by("pk").values_list():
            digest.update(repr(row).encode())
    # Exports are each person's own: others may make theirs, never touch the owner's.
    for row in DataExport.objects.filter(user__email__contains=SECRET).order_by("pk").values_list():
        digest.update(repr(row).encode())
    return digest.hexdigest()


ROUTES = all_routes()
SITE_ROUTES = [route for route in ROUTES if not route.template.startswith("admin/")]
ADMIN_ROUTES = [route for route in ROUTES if route.template.startswith("admin/")]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """One world for the whole module (building it is most of a test's time), inside a
    transaction rolled back at the end; each test's own changes roll back to it (pytest-django
    wraps every test in a savepoint), so every test starts from the same world."""
    root = tmp_path_factory.mktemp("world")
    overrides = override_settings(
        MEDIA_ROOT=str(root / "media"),
        CHAT_ATTACHMENT_ROOT=str(root / "chat"),
        HELPDESK_DOCUMENT_ROOT=str(root / "help"),
        ACCOUNT_EXPORT_ROOT=str(root / "exports"),
        HELPDESK_DOCUMENT_KEYS=[Fernet.generate_key().decode()],
        MEETING_PROVIDER="memory",
        STORAGES={**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}},
    )
    with overrides, django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _fresh_clients(request):
    """Each test starts with clients that carry only the world's sessions."""
    if "world" in request.fixturenames:
        request.getfixturevalue("world").clients.clear()


def test_every_route_argument_is_mapped(world):
    """A new route with a path value: tell the matrix what it names (ROUTE_ARGUMENTS,
    APP_ARGUMENTS or ARGUMENTS; a new kind of object goes into the world) and, if it is not the
    owner's, who may see it (ACCESS)."""
    names = set(world.values)
    unmapped = [
        f"{route_id(route)}: {kwarg}"
        for route in SITE_ROUTES
        if not route.template.startswith("media/")
        for kwarg, _ in route.parameters
        if argument_name(route, kwarg) not in names
    ]
    assert unmapped == []
    assert {kwarg for route in ADMIN_ROUTES for kwarg, _ in route.parameters} <= set(ADMIN_ARGUMENTS)


def test_the_matrix_covers_every_route():
    assert len(SITE_ROUTES) + len(ADMIN_ROUTES) == len(ROUTES)
    assert all(access_of(route) for route in ROUTES)
    declared = set(ACCESS) | set(ENTITLED) | set(ROUTE_ARGUMENTS)
    assert declared <= {route_id(route) for route in ROUTES}, "ACCESS names a route that no longer exists"


@pytest.mark.parametrize("route", SITE_ROUTES, ids=route_id)
def test_no_one_but_the_entitled_person_gets_the_owners_things(world, route):
    check_route(world, route)


def check_route(world: World, route: Route) -> None:
    access = access_of(route)
    entitled = ENTITLED.get(route_id(route), "owner")
    real = path_for(route, world)
    unknown = path_for(route, world, unknown=True)
    methods = methods_of(route)

    # the entitled person reaches the object: the matrix points at something real
    if access == OWNER and "get" in methods:
        answer = call(world, entitled, route, "get", real)
        assert answer.status_code < 400 or answer.status_code == 405, (real, answer.status_code)

    before = owners_state()
    for method in methods:
        for role in NON_OWNERS:
            answer = call(world, role, route, method, real)
            where = f"{method.upper()} {real} as {role}: {answer.status_code}"
            assert answer.status_code < 500, where
            assert not leaked(answer), f"{where} shows the owner's data"
            if role in {"anonymous", "deactivated"} and access != PUBLIC:
                assert refused_anonymous(route, answer), where
            if access == OWNER:
                assert answer.status_code not in range(200, 300), where
                twin = call(world, role, route, method, unknown)
                assert same_answer(answer, twin), f"{where}, but {twin.status_code} for an object that does not exist"
    if access in {OWNER, SIGNED_IN, PUBLIC, STAFF}:
        assert owners_state() == before, f"{route_id(route)}: someone else's request changed the owner's things"


@pytest.mark.parametrize("route", [route for route in ADMIN_ROUTES if access_of(route) == STAFF], ids=route_id)
def test_only_staff_reach_the_admin(world, route):
    path = path_for(route, None)
    for role in ("owner", "deactivated", "anonymous"):
        answer = client_for(world, role).get(path)
        assert refused_anonymous(route, answer), f"GET {path} as {role}: {answer.status_code}"


def test_staff_reach_an_admin_page_that_shows_the_owners_group(world):
    # guards the admin check above: staff do see it
    answer = client_for(world, "staff").get(reverse("admin:chat_conversation_change", args=[world.group.pk]))
    assert answer.status_code == 200 and SECRET in answer.content.decode()


def test_the_secret_is_somewhere_the_owner_sees(world):
    # guards the leak check: the owner's own pages do show it
    client = client_for(world, "owner")
    assert SECRET in client.get(reverse("chat:conversation", args=[world.group.pk])).content.decode()
    assert SECRET in client.get(world.help_request.get_absolute_url()).content.decode()
    assert uuid.UUID(str(world.values["meeting"]))


def test_a_valid_reaction_or_reply_to_the_owners_message_is_refused_like_an_unknown_one(world):
    # The matrix posts empty bodies; a well-formed reaction or reply must fare no better.
    from chat import services as chat_services

    message, group, thumbs = world.values["message"], world.values["group"], "\N{THUMBS UP SIGN}"
    theirs = chat_services.open_direct_conversation(user=world.other, other=world.non_member)
    before = owners_state()
    for role in ("other", "non_member"):
        api = Client(raise_request_exception=False)
        auth = {"HTTP_AUTHORIZATION": f"Bearer {world.tokens[role]}"}
        answers = [
            api.post(
                reverse("api:chat-message-reactions", args=[pk]),
                data={"emoji": thumbs},
                content_type="application/json",
                **auth,
            )
            for pk in (message, UNKNOWN_ID)
        ]
        assert [a.status_code for a in answers] == [404, 404] and same_answer(*answers)
        page = client_for(world, role).post(reverse("chat:react", args=[group, message]), {"emoji": thumbs})
        assert page.status_code == 404
        # a reply from their own conversation to the owner's message: refused, nothing stored
        answer = api.post(
            reverse("api:chat-messages", args=[theirs.pk]),
            data={"body": "hi", "client_id": uuid.uuid4().hex, "reply_to": message},
            content_type="application/json",
            **auth,
        )
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_reply_to", answer.content
        assert not leaked(answer)
    assert owners_state() == before


# A route that forgets its check, in a URLconf of its own: the matrix must refuse it.
def _leaky_group_name(request, pk):
    from django.http import HttpResponse

    return HttpResponse(Conversation.objects.get(pk=pk).name)


def test_a_route_that_forgets_its_permission_check_fails_the_matrix(world, settings, monkeypatch):
    import sys
    import types

    from django.urls import clear_url_caches, include, path

    module = types.ModuleType("tests.security.leaky_urls")
    module.urlpatterns = [
        path("", include("config.urls")),
        path("chat/<id:pk>/name/", _leaky_group_name, name="leaky_name"),
    ]
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    monkeypatch.setitem(ROUTE_ARGUMENTS, "leaky_name", {"pk": "group"})
    clear_url_caches()
    try:
        leaky = next(route for route in all_routes() if route.name == "leaky_name")
        with pytest.raises(AssertionError, match="shows the owner's data"):
            check_route(world, leaky)
    finally:
        del sys.modules[module.__name__]
        clear_url_caches()


def test_a_user_is_named_by_public_id_only_and_a_bad_one_is_a_400_or_404(world):
    # Every body that takes a user takes their public_id (a UUID string): the integer pk, a
    # malformed value and an unknown UUID are refused (400 field error or 404), never a 500,
    # and change nothing; the integer pk never appears in an answer naming the owner.
    api = Client(raise_request_exception=False)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {world.tokens['other']}"}
    bodies = {
        "api:chat-direct": lambda value: {"user": value},
        "api:chat-conversations": lambda value: {"name": "Study group", "members": [value]},
        "api:social-friend-requests": lambda value: {"to": value},
        "api:social-blocks": lambda value: {"user": value},
        "api:social-reports": lambda value: {"user": value, "reason": "spam"},
    }
    before = owners_state()
    for name, body in bodies.items():
        for value in (world.owner.pk, "not-a-uuid", str(UNKNOWN_UUID)):
            answer = api.post(reverse(name), data=body(value), content_type="application/json", **auth)
            assert answer.status_code in (400, 404), (name, value, answer.status_code, answer.content)
    assert owners_state() == before
    direct = api.post(
        reverse("api:chat-direct"), data={"user": str(world.owner.public_id)}, content_type="application/json", **auth
    )
    assert direct.status_code in (200, 201), direct.content
    other = direct.json()["other"]
    assert other == {"public_id": str(world.owner.public_id), "name": other["name"], "initials": other["initials"]}
