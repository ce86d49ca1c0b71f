"""Generated frames against the live consumer (Hypothesis): whatever a client sends, the socket
answers with frames or closes with one of its own codes — never a crash (1011 under daphne),
never an exception out of the consumer.

Each example is a short sequence of frames on a fresh socket of a member of two conversations:
registered frame types and made-up ones, with ids that are right, foreign, missing, of another
script or of the wrong type, bodies of any text (lone surrogates included), nested values, and
texts that are not JSON, too deep or cut short.
"""

import json
import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import UserFactory
from chat import services
from chat.tests.factories import befriend, direct_between
from live import consumer as live_consumer
from tests.security.live_sockets import TIMEOUT, socket_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

EXAMPLES = int(os.environ.get("LYCEUM_FRAME_FUZZ_EXAMPLES", "60"))
# The close codes a socket may end with when frames are bad: the bad-frame limit, or a normal close.
ALLOWED_CLOSE_CODES = {live_consumer.CLOSE_TOO_MANY_BAD_FRAMES, 1000, None}

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
any_text = st.text(
    alphabet=st.characters() | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"]),
    max_size=40,
)
digit_text = st.text(alphabet=string.digits + "²³¹٣१߃ -+.e_", min_size=1, max_size=22)


@pytest.fixture
def world(transactional_db):
    """Ada, a member of a direct conversation and a group; a conversation she is not in."""
    ada = UserFactory(first_name="Ada", last_name="Lovelace")
    bob = UserFactory(first_name="Bob", last_name="Babbage")
    eve = UserFactory(first_name="Eve", last_name="Intruder")
    befriend(ada, eve)
    direct = direct_between(ada, bob)
    group = services.create_group(owner=ada, name="Fuzz", members=[bob, eve])
    foreign = direct_between(bob, eve)
    return ada, [direct.pk, group.pk, foreign.pk, foreign.pk + 1000]


def frames(conversation_ids: list[int]):
    ids = st.sampled_from(conversation_ids) | st.integers() | digit_text | json_values
    seqs = st.integers(min_value=-5, max_value=2**64) | json_values
    keys = st.sampled_from([str(i) for i in conversation_ids]) | digit_text
    resync_value = seqs | st.fixed_dictionaries({}, optional={"seq": seqs, "changes": seqs}) | json_values
    frame = st.fixed_dictionaries(
        {"type": st.sampled_from(sorted(live_consumer.FRAME_HANDLERS)) | st.text(max_size=12) | json_values},
        optional={
            "conversation": ids,
            "seq": seqs,
            "body": any_text | json_values,
            "client_id": st.uuids().map(str) | any_text | json_values,
            "conversations": st.dictionaries(keys, resync_value, max_size=4) | json_values,
            "extra": json_values,
        },
    )
    encoded = st.builds(lambda f, ascii_only: json.dumps(f, ensure_ascii=ascii_only), frame, st.booleans())
    mangled = (
        st.builds(lambda text, cut: text[:cut], encoded, st.integers(min_value=0, max_value=60))
        | st.builds(lambda depth: '{"type": "ping", "x": ' + "[" * depth + "]" * depth + "}", st.integers(0, 5000))
        | any_text
    )
    # WebsocketCommunicator sends no empty frame (a browser sends one as "").
    texts = st.one_of(encoded, encoded, encoded, mangled).map(lambda text: ("text", text or " "))
    return texts | st.binary(min_size=1, max_size=20).map(lambda data: ("bytes", data))


async def _outputs_until_pong(ws) -> int | None:
    """Read what the socket answers until the pong of our closing ping (every frame before it is
    handled by then) or a close; the close code, or None while it is open."""
    await ws.send_json_to({"type": "ping"})
    while True:
        output = await ws.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            return output.get("code", 1000)
        frame = json.loads(output["text"])
        assert isinstance(frame.get("type"), str)
        if frame["type"] == "pong":
            return None


@pytest.mark.timeout(600)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_generated_frames_never_crash_the_socket(world, data):
    ada, conversation_ids = world
    sequence = data.draw(st.lists(frames(conversation_ids), min_size=1, max_size=12), label="frames")
    ws = await socket_of(ada)

    for kind, payload in sequence:
        if kind == "text":
            await ws.send_to(text_data=payload)
        else:
            await ws.send_to(bytes_data=payload)

    closed = await _outputs_until_pong(ws)
    assert closed in ALLOWED_CLOSE_CODES, f"closed with {closed}"
    # An exception inside the consumer surfaces here (it ends the application's future).
    await ws.disconnect()
