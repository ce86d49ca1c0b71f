"""Meeting providers. The Graph provider runs the real msal and requests code against a local
HTTPS stand-in for the Microsoft identity platform and Graph (graph_stub.py): no mocks."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpdesk.meetings import (
    GraphMeetingProvider,
    InMemoryMeetingProvider,
    LocalMeetingProvider,
    Meeting,
    MeetingError,
    MeetingPermanentError,
    MeetingSpec,
    get_meeting_provider,
    memory_provider,
    reset_graph_clients,
)
from helpdesk.tests.graph_stub import REVOKE_TOKEN, GraphStub, Reply

EXTERNAL_ID = "7d0c3f7e-8a4b-4c52-9d0e-2f1a6b3c4d5e"


@pytest.fixture(autouse=True)
def _fresh_providers():
    reset_graph_clients()
    memory_provider.reset()
    yield
    reset_graph_clients()
    memory_provider.reset()


@pytest.fixture
def stub(settings):
    with GraphStub() as graph_stub:
        for name, value in graph_stub.settings().items():
            setattr(settings, name, value)
        yield graph_stub


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(sleeps) -> GraphMeetingProvider:
    return GraphMeetingProvider(sleep=sleeps.append)


def make_spec(external_id: str = EXTERNAL_ID, **overrides) -> MeetingSpec:
    start = datetime(2026, 12, 1, 15, 30, tzinfo=ZoneInfo("Europe/Warsaw"))
    values = {
        "external_id": external_id,
        "subject": "Help: integrals, part 2",
        "start": start,
        "end": start + timedelta(minutes=45),
    }
    values.update(overrides)
    return MeetingSpec(**values)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Graph: the happy path and idempotency ------------------------------------------------------


def test_graph_provider_gets_an_app_token_and_creates_the_meeting(stub, provider):
    # Given a configured tenant (the stub); When a meeting is created
    meeting = provider.create_or_get(make_spec())

    # Then the meeting comes from Graph's answer
    assert meeting == Meeting(
        join_url=stub.meetings[EXTERNAL_ID]["joinWebUrl"], meeting_id=stub.meetings[EXTERNAL_ID]["id"], provider="graph"
    )
    # And the token came from the client-credentials grant for Graph's default scope
    [token_request] = stub.token_requests
    assert token_request["grant_type"] == "client_credentials"
    assert token_request["client_id"] == stub.client_id
    assert token_request["scope"].split().count("https://graph.microsoft.com/.default") == 1
    # And createOrGet was called for the organizer with that token and the request's UUID
    [call] = stub.graph_calls
    assert call.path == f"/v1.0/users/{stub.organizer}/onlineMeetings/createOrGet"
    assert call.headers["Authorization"] == f"Bearer {stub.issued_tokens[0]}"
    assert call.body == {
        "externalId": EXTERNAL_ID,
        "subject": "Help: integrals, part 2",
        "startDateTime": "2026-12-01T14:30:00+00:00",
        "endDateTime": "2026-12-01T15:15:00+00:00",
    }
    assert call.status == 201


def test_a_retried_create_returns_the_same_meeting_and_reuses_the_cached_token(stub, provider):
    # Given a meeting already created for a help request
    first = provider.create_or_get(make_spec())

    # When the task runs again for the same request (a new provider object, same process)
    second = GraphMeetingProvider(sleep=lambda _: None).create_or_get(make_spec())

    # Then Graph returned the existing meeting and msal's cached token was used
    assert second == first
    assert [call.status for call in stub.graph_calls] == [201, 200]
    assert len(stub.meetings) == 1
    assert len(stub.token_requests) == 1
    assert stub.discovery_requests == 1


def test_different_requests_get_different_meetings(stub, provider):
    first = provider.create_or_get(make_spec())
    second = provider.create_or_get(make_spec("0b6e7d36-9a51-4f0e-8f53-3c1d1e2a4b5c"))

    assert first.meeting_id != second.meeting_id
    assert first.join_url != second.join_url


# --- Graph: throttling and server errors --------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(stub, provider, sleeps):
    stub.script(Reply(429, retry_after="1", graph_error=("TooManyRequests", "Too many requests")))

    meeting = provider.create_or_get(make_spec())

    assert sleeps == [1.0]
    assert [call.status for call in stub.graph_calls] == [429, 201]
    assert meeting.meeting_id == stub.meetings[EXTERNAL_ID]["id"]


def test_503_with_retry_after_waits_that_long_then_succeeds(stub, provider, sleeps):
    stub.script(Reply(503, retry_after="2"))

    provider.create_or_get(make_spec())

    assert sleeps == [2.0]
    assert [call.status for call in stub.graph_calls] == [503, 201]


def test_503_without_retry_after_backs_off_then_succeeds(stub, provider, sleeps):
    stub.script(Reply(503))

    provider.create_or_get(make_spec())

    assert sleeps == [1.0]
    assert [call.status for call in stub.graph_calls] == [503, 201]


def test_a_retry_after_beyond_the_cap_is_left_to_the_task_queue(stub, provider, sleeps):
    stub.script(Reply(429, retry_after="120"))

    with pytest.raises(MeetingError) as caught:
        provider.create_or_get(make_spec())

    assert not isinstance(caught.value, MeetingPermanentError)
    assert caught.value.retry_after == 120.0
    assert sleeps == []
    assert len(stub.graph_calls) == 1


def test_repeated_500s_back_off_exponentially_then_raise_a_transient_error(stub, provider, sleeps):
    stub.script(*[Reply(500)] * 4)

    with pytest.raises(MeetingError) as caught:
        provider.create_or_get(make_spec())

    assert not isinstance(caught.value, MeetingPermanentError)
    assert "500" in str(caught.value)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(stub.graph_calls) == 4
    assert stub.meetings == {}


def test_a_500_then_success_creates_one_meeting(stub, provider, sleeps):
    stub.script(Reply(500), Reply(502))

    provider.create_or_get(make_spec())

    assert sleeps == [1.0, 2.0]
    assert [call.status for call in stub.graph_calls] == [500, 502, 201]
    assert len(stub.meetings) == 1


def test_graph_unreachable_is_a_transient_error_after_bounded_retries(stub, provider, sleeps, settings):
    # Given a Graph address where nothing listens (the identity platform still answers)
    settings.TEAMS_GRAPH_URL = f"https://127.0.0.1:{closed_port()}/v1.0"

    with pytest.raises(MeetingError) as caught:
        provider.create_or_get(make_spec())

    assert not isinstance(caught.value, MeetingPermanentError)
    assert "unreachable" in str(caught.value)
    assert sleeps == [1.0, 2.0, 4.0]


def test_identity_platform_unreachable_is_a_transient_error(stub, provider, settings):
    settings.TEAMS_AUTHORITY_HOST = f"https://127.0.0.1:{closed_port()}"

    with pytest.raises(MeetingError) as caught:
        provider.create_or_get(make_spec())

    assert not isinstance(caught.value, MeetingPermanentError)
    assert stub.graph_calls == []


def test_the_stub_certificate_is_refused_without_the_configured_ca(stub, provider, settings):
    # Given no TEAMS_CA_BUNDLE: only public CAs are trusted, whatever REQUESTS_CA_BUNDLE says
    settings.TEAMS_CA_BUNDLE = None

    with pytest.raises(MeetingError):
        provider.create_or_get(make_spec())

    assert stub.token_requests == []


# --- Graph: tokens --------------------------------------------------------------------------


def test_a_401_gets_a_new_token_once_and_succeeds(stub, provider, sleeps):
    # Given Graph rejects the cached token once (expired or revoked)
    provider.create_or_get(make_spec("0b6e7d36-9a51-4f0e-8f53-3c1d1e2a4b5c"))
    stub.script(REVOKE_TOKEN)

    # When the next meeting is created
    meeting = provider.create_or_get(make_spec())

    # Then a fresh token was requested and accepted, without waiting
    assert len(stub.token_requests) == 2
    first_token, second_token = stub.issued_tokens
    assert stub.graph_calls[-2].headers["Authorization"] == f"Bearer {first_token}"
    assert stub.graph_calls[-1].headers["Authorization"] == f"Bearer {second_token}"
    assert [call.status for call in stub.graph_calls] == [201, 401, 201]
    assert meeting.meeting_id == stub.meetings[EXTERNAL_ID]["id"]
    assert sleeps == []


def test_a_second_401_with_a_fresh_token_is_permanent(stub, provider):
    stub.script(REVOKE_TOKEN, REVOKE_TOKEN)

    with pytest.raises(MeetingPermanentError, match="401"):
        provider.create_or_get(make_spec())

    assert len(stub.token_requests) == 2
    assert len(stub.graph_calls) == 2


def test_a_wrong_client_secret_is_permanent(stub, provider, settings):
    settings.TEAMS_CLIENT_SECRET = "not-the-secret"

    with pytest.raises(MeetingPermanentError, match="invalid_client"):
        provider.create_or_get(make_spec())

    assert stub.graph_calls == []


@pytest.mark.parametrize(
    "reply",
    [Reply(500), Reply(503, retry_after="1"), Reply(400, graph_error=("temporarily_unavailable", "AADSTS50196"))],
)
def test_a_failing_token_endpoint_is_transient(stub, provider, reply):
    stub.script_token(reply)

    with pytest.raises(MeetingError) as caught:
        provider.create_or_get(make_spec())

    assert not isinstance(caught.value, MeetingPermanentError)
    assert stub.graph_calls == []


def test_an_unknown_tenant_is_permanent(stub, provider, settings):
    settings.TEAMS_TENANT_ID = "no-such-tenant"

    with pytest.raises(MeetingPermanentError, match="tenant"):
        provider.create_or_get(make_spec())


# --- Graph: refusals that retrying cannot fix ------------------------------------------------


def test_403_is_permanent_and_carries_graphs_message(stub, provider, sleeps):
    stub.script(Reply(403, graph_error=("Forbidden", "No application access policy found for this app.")))

    with pytest.raises(MeetingPermanentError) as caught:
        provider.create_or_get(make_spec())

    assert "Forbidden: No application access policy found for this app." in str(caught.value)
    assert "application access policy" in str(caught.value)
    assert len(stub.graph_calls) == 1
    assert sleeps == []


def test_an_unknown_organizer_is_permanent(stub, provider, settings):
    # Given an organizer id that does not exist in the tenant: the stub answers 404 as Graph does
    settings.TEAMS_ORGANIZER_ID = "99999999-0000-0000-0000-000000000000"

    with pytest.raises(MeetingPermanentError) as caught:
        provider.create_or_get(make_spec())

    assert "404" in str(caught.value)
    assert "User 99999999-0000-0000-0000-000000000000 not found." in str(caught.value)
    assert len(stub.graph_calls) == 1


def test_a_scripted_404_is_permanent(stub, provider):
    stub.script(Reply(404, graph_error=("NotFound", "Resource not found")))

    with pytest.raises(MeetingPermanentError, match="NotFound"):
        provider.create_or_get(make_spec())


def test_a_bad_request_is_permanent_without_retry(stub, provider, sleeps):
    stub.script(Reply(400, graph_error=("BadRequest", "Invalid startDateTime")))

    with pytest.raises(MeetingPermanentError, match="Invalid startDateTime"):
        provider.create_or_get(make_spec())

    assert sleeps == []
    assert len(stub.graph_calls) == 1


@pytest.mark.parametrize("name", ["TEAMS_TENANT_ID", "TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_ORGANIZER_ID"])
def test_a_missing_setting_is_permanent_and_named(stub, provider, settings, name):
    setattr(settings, name, "")

    with pytest.raises(MeetingPermanentError, match=name):
        provider.create_or_get(make_spec())

    assert stub.discovery_requests == 0
    assert stub.token_requests == []


def test_an_http_authority_is_refused_with_a_clear_message(stub, provider, settings):
    settings.TEAMS_AUTHORITY_HOST = stub.base_url.replace("https://", "http://")

    with pytest.raises(MeetingPermanentError, match="https"):
        provider.create_or_get(make_spec())


def test_neither_the_secret_nor_a_token_is_logged(stub, provider, caplog):
    caplog.set_level(logging.DEBUG)
    stub.script(REVOKE_TOKEN, Reply(503, retry_after="1"))

    provider.create_or_get(make_spec())

    assert "createOrGet" in caplog.text
    assert stub.client_secret not in caplog.text
    for token in stub.issued_tokens:
        assert token not in caplog.text


# --- The spec, local and memory providers, selection -------------------------------------------


def test_a_spec_needs_aware_times_in_order():
    start = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        make_spec(start=start.replace(tzinfo=None))
    with pytest.raises(ValueError, match="after"):
        make_spec(start=start, end=start)


def test_the_local_provider_gives_a_stable_join_page_on_this_site(settings):
    settings.SITE_URL = "https://lyceum.example"
    local = LocalMeetingProvider()

    meeting = local.create_or_get(make_spec())

    assert meeting == Meeting(
        join_url=f"https://lyceum.example/help/meet/{EXTERNAL_ID}/", meeting_id=f"local-{EXTERNAL_ID}", provider="local"
    )
    assert local.create_or_get(make_spec(subject="changed")) == meeting


def test_the_memory_provider_has_create_or_get_semantics_and_records_calls():
    memory = InMemoryMeetingProvider()

    first = memory.create_or_get(make_spec())
    again = memory.create_or_get(make_spec())
    other = memory.create_or_get(make_spec("0b6e7d36-9a51-4f0e-8f53-3c1d1e2a4b5c"))

    assert first == again
    assert other != first
    assert first.provider == "memory"
    assert [spec.external_id for spec in memory.calls] == [EXTERNAL_ID, EXTERNAL_ID, other.meeting_id[len("memory-") :]]


def test_the_memory_provider_fails_as_scripted_then_recovers():
    memory = InMemoryMeetingProvider()
    memory.fail_next(2)
    memory.fail_next(permanent=True, message="no access policy")

    for _ in range(2):
        with pytest.raises(MeetingError) as caught:
            memory.create_or_get(make_spec())
        assert not isinstance(caught.value, MeetingPermanentError)
    with pytest.raises(MeetingPermanentError, match="no access policy"):
        memory.create_or_get(make_spec())
    assert memory.create_or_get(make_spec()).meeting_id == f"memory-{EXTERNAL_ID}"
    assert len(memory.calls) == 4


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("graph", GraphMeetingProvider), ("local", LocalMeetingProvider), ("memory", InMemoryMeetingProvider)],
)
def test_the_provider_is_chosen_by_the_setting(settings, setting, expected):
    settings.MEETING_PROVIDER = setting

    chosen = get_meeting_provider()

    assert isinstance(chosen, expected)
    assert chosen.name == setting


def test_the_memory_provider_is_one_per_process_so_tests_can_inspect_it(settings):
    settings.MEETING_PROVIDER = "memory"

    get_meeting_provider().create_or_get(make_spec())

    assert get_meeting_provider() is memory_provider
    assert [spec.external_id for spec in memory_provider.calls] == [EXTERNAL_ID]


def test_an_unknown_provider_setting_is_permanent(settings):
    settings.MEETING_PROVIDER = "zoom"

    with pytest.raises(MeetingPermanentError, match="zoom"):
        get_meeting_provider()
