import pytest
from django.core.paginator import Paginator

from social import selectors
from social.tests.factories import BlockFactory, FriendRequestFactory, UserFactory, make_friends

pytestmark = pytest.mark.django_db

BOLOGNA, ENGINEERING = "University of Bologna", "Computer Engineering"


def names(people) -> list[str]:
    return [person.get_full_name() for person in people]


@pytest.fixture
def viewer(db):
    return UserFactory(first_name="Vera", last_name="Viewer", university=BOLOGNA, course=ENGINEERING)


# --- search_directory ---------------------------------------------------------------------------


def test_search_by_university_and_course_ignores_letter_case_and_excludes_the_viewer(viewer):
    UserFactory(first_name="Ann", last_name="Alpha", university=BOLOGNA, course=ENGINEERING)
    UserFactory(first_name="Ben", last_name="Beta", university=BOLOGNA, course="Physics")
    UserFactory(first_name="Cid", last_name="Gamma", university="Sapienza", course=ENGINEERING)

    found = selectors.search_directory(
        viewer=viewer, university="university OF bologna", course=" computer engineering "
    )

    assert names(found) == ["Ann Alpha"]


def test_filters_combine(viewer):
    UserFactory(first_name="Ann", last_name="Alpha", university=BOLOGNA, course=ENGINEERING, interests="jazz, chess")
    UserFactory(first_name="Anna", last_name="Other", university=BOLOGNA, course=ENGINEERING, interests="rowing")
    UserFactory(first_name="Annie", last_name="Far", university="Sapienza", course=ENGINEERING, interests="jazz")

    assert names(selectors.search_directory(viewer=viewer, q="ann")) == ["Ann Alpha", "Anna Other", "Annie Far"]
    assert names(selectors.search_directory(viewer=viewer, q="ann", university=BOLOGNA)) == ["Ann Alpha", "Anna Other"]
    found = selectors.search_directory(viewer=viewer, q="ann", university=BOLOGNA, interests="Jazz")
    assert names(found) == ["Ann Alpha"]
    assert names(selectors.search_directory(viewer=viewer, interests="jazz, chess")) == ["Ann Alpha"]


def test_name_search_matches_the_start_of_first_or_last_name_for_every_word(viewer):
    UserFactory(first_name="Grace", last_name="Hopper")
    UserFactory(first_name="Hopper", last_name="Grant")
    UserFactory(first_name="Ada", last_name="Grayson")

    assert names(selectors.search_directory(viewer=viewer, q="hop")) == ["Grace Hopper", "Hopper Grant"]
    assert names(selectors.search_directory(viewer=viewer, q="gra hop")) == ["Grace Hopper", "Hopper Grant"]
    assert names(selectors.search_directory(viewer=viewer, q="opper")) == []


def test_search_hides_inactive_accounts_and_blocks_in_both_directions(viewer):
    UserFactory(first_name="Active", last_name="Student", university=BOLOGNA)
    UserFactory(first_name="Gone", last_name="Student", university=BOLOGNA, is_active=False)
    i_blocked = UserFactory(first_name="Blocked", last_name="ByMe", university=BOLOGNA)
    blocked_me = UserFactory(first_name="Blocker", last_name="OfMe", university=BOLOGNA)
    BlockFactory(blocker=viewer, blocked=i_blocked)
    BlockFactory(blocker=blocked_me, blocked=viewer)

    assert names(selectors.search_directory(viewer=viewer, university=BOLOGNA)) == ["Active Student"]
    # ...and the blocker has vanished for the student they blocked too.
    assert "Vera Viewer" not in names(selectors.search_directory(viewer=i_blocked, university=BOLOGNA))


def test_each_result_carries_the_viewers_relationship(viewer):
    friend = UserFactory(first_name="A", last_name="Friend", university=BOLOGNA)
    asked = UserFactory(first_name="B", last_name="Asked", university=BOLOGNA)
    asker = UserFactory(first_name="C", last_name="Asker", university=BOLOGNA)
    UserFactory(first_name="D", last_name="Stranger", university=BOLOGNA)
    declined = UserFactory(first_name="E", last_name="Declined", university=BOLOGNA)
    make_friends(viewer, friend)
    sent = FriendRequestFactory(from_user=viewer, to_user=asked)
    received = FriendRequestFactory(from_user=asker, to_user=viewer)
    FriendRequestFactory(from_user=viewer, to_user=declined, status="declined")

    found = {p.last_name: p for p in selectors.search_directory(viewer=viewer, university=BOLOGNA)}

    assert {name: p.relationship for name, p in found.items()} == {
        "Friend": "friend",
        "Asked": "request_sent",
        "Asker": "request_received",
        "Stranger": "none",
        "Declined": "none",
    }
    assert found["Asked"].sent_request_id == sent.pk and found["Asked"].received_request_id is None
    assert found["Asker"].received_request_id == received.pk and found["Asker"].sent_request_id is None


@pytest.mark.parametrize("population", [3, 25])
def test_a_page_of_results_costs_three_queries_whatever_its_size(viewer, django_assert_num_queries, population):
    for i in range(population):
        person = UserFactory(university=BOLOGNA, course=ENGINEERING)
        if i % 3 == 0:
            make_friends(viewer, person)
        elif i % 3 == 1:
            FriendRequestFactory(from_user=person, to_user=viewer)
    BlockFactory(blocker=viewer, blocked=UserFactory(university=BOLOGNA))

    # the university list's matching names, then the count and the page, relationships included
    with django_assert_num_queries(3):
        page = Paginator(selectors.search_directory(viewer=viewer, university=BOLOGNA), 20).get_page(1)
        rows = [(p.get_full_name(), p.relationship, p.received_request_id, p.avatar) for p in page.object_list]

    assert len(rows) == min(population, 20)
    assert page.paginator.count == population


# --- people_you_may_know -------------------------------------------------------------------------


def test_suggestions_rank_classmates_first_then_mutual_friends(viewer):
    friend1 = UserFactory(university="Elsewhere", course="Law")
    friend2 = UserFactory(university="Elsewhere", course="Law")
    make_friends(viewer, friend1)
    make_friends(viewer, friend2)
    two_mutual = UserFactory(first_name="Two", last_name="Mutual", university="Elsewhere", course="Law")
    make_friends(two_mutual, friend1)
    make_friends(two_mutual, friend2)
    one_mutual = UserFactory(first_name="One", last_name="Mutual", university="Elsewhere", course="Art")
    make_friends(friend1, one_mutual)
    UserFactory(first_name="Zed", last_name="Classmate", university=BOLOGNA.upper(), course=ENGINEERING)
    classmate_and_mutual = UserFactory(first_name="Yan", last_name="Both", university=BOLOGNA, course=ENGINEERING)
    make_friends(classmate_and_mutual, friend2)
    UserFactory(first_name="No", last_name="Link", university="Sapienza", course="Law")

    suggested = selectors.people_you_may_know(user=viewer, limit=10)

    assert names(suggested) == ["Yan Both", "Zed Classmate", "Two Mutual", "One Mutual"]
    assert [(p.same_course, p.mutual_friends) for p in suggested] == [(1, 1), (1, 0), (0, 2), (0, 1)]


def test_suggestions_leave_out_friends_pending_requests_blocks_inactive_and_self(viewer):
    def classmate(**extra):
        return UserFactory(university=BOLOGNA, course=ENGINEERING, **extra)

    make_friends(viewer, classmate())
    FriendRequestFactory(from_user=viewer, to_user=classmate())
    FriendRequestFactory(from_user=classmate(), to_user=viewer)
    BlockFactory(blocker=viewer, blocked=classmate())
    BlockFactory(blocker=classmate(), blocked=viewer)
    classmate(is_active=False)
    welcome = classmate(first_name="Welcome", last_name="Suggestion")

    assert names(selectors.people_you_may_know(user=viewer)) == [welcome.get_full_name()]


def test_suggestions_respect_the_limit_and_cost_two_queries(viewer, django_assert_num_queries):
    for _ in range(8):
        UserFactory(university=BOLOGNA, course=ENGINEERING)
    make_friends(viewer, UserFactory())

    with django_assert_num_queries(2):  # the viewer's friend ids, then the ranked candidates
        suggested = selectors.people_you_may_know(user=viewer, limit=5)

    assert len(suggested) == 5


def test_a_student_without_course_or_friends_gets_no_suggestions():
    loner = UserFactory(university="", course="")
    UserFactory(university="", course="")
    assert selectors.people_you_may_know(user=loner) == []


# --- friends, requests, single relationships ---------------------------------------------------


def test_friends_of_lists_active_friends_by_name_and_searches_them(viewer):
    for first, last in [("Zoe", "Zeta"), ("Amy", "Apple"), ("Max", "Mint")]:
        make_friends(viewer, UserFactory(first_name=first, last_name=last))
    make_friends(viewer, UserFactory(first_name="Old", last_name="Gone", is_active=False))
    UserFactory(first_name="Amy", last_name="Stranger")

    assert names(selectors.friends_of(user=viewer)) == ["Amy Apple", "Max Mint", "Zoe Zeta"]
    assert names(selectors.friends_of(user=viewer, q="am")) == ["Amy Apple"]
    assert all(p.friends_since is not None for p in selectors.friends_of(user=viewer))


def test_request_lists_show_only_the_users_pending_requests(viewer, eve):
    incoming = FriendRequestFactory(to_user=viewer)
    outgoing = FriendRequestFactory(from_user=viewer)
    FriendRequestFactory(to_user=viewer, status="declined")
    FriendRequestFactory(to_user=viewer, from_user=UserFactory(is_active=False))
    FriendRequestFactory(to_user=eve)

    assert list(selectors.incoming_requests(user=viewer)) == [incoming]
    assert list(selectors.outgoing_requests(user=viewer)) == [outgoing]
    assert selectors.incoming_request_count(user=viewer) == 1


@pytest.mark.parametrize(
    ("setup", "state"),
    [
        (lambda v, p: None, "none"),
        (lambda v, p: make_friends(v, p), "friend"),
        (lambda v, p: FriendRequestFactory(from_user=v, to_user=p), "request_sent"),
        (lambda v, p: FriendRequestFactory(from_user=p, to_user=v), "request_received"),
        (lambda v, p: BlockFactory(blocker=v, blocked=p), "blocked"),
        (lambda v, p: BlockFactory(blocker=p, blocked=v), "blocked_by"),
    ],
)
def test_relationship_between_two_students(viewer, setup, state):
    person = UserFactory()
    setup(viewer, person)

    assert selectors.relationship_between(viewer=viewer, person=person).state == state


def test_relationship_with_oneself_is_self(viewer):
    assert selectors.relationship_between(viewer=viewer, person=viewer).state == "self"


def test_person_for_hides_blocked_students_either_way(viewer):
    blocked_me = UserFactory()
    BlockFactory(blocker=blocked_me, blocked=viewer)
    assert selectors.person_for(viewer=viewer, public_id=blocked_me.public_id) is None
    assert selectors.person_for(viewer=viewer, public_id="not-a-uuid") is None
