import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from experts import selectors
from experts.models import ExpertProfile
from experts.tests.factories import CategoryFactory, ExpertProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

Status = ExpertProfile.Status


def form_data(*categories, **overrides):
    data = {
        "headline": "Organic chemistry, lab reports",
        "bio": "Lab TA for three years.",
        "categories": [c.pk for c in categories],
        "languages": "English",
        "availability_note": "Weekends",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("name", ["experts:directory", "experts:apply", "experts:mine"])
def test_pages_need_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_directory_shows_cards_with_rating_count_and_sessions(client_of, ada, maths):
    ExpertProfileFactory(
        headline="Twenty great", categories=[maths], rating_count=20, rating_sum=96, sessions_completed=25
    )
    ExpertProfileFactory(headline="Brand new", categories=[maths])
    ExpertProfileFactory(headline="Not yet approved", status=Status.PENDING)

    response = client_of(ada).get(reverse("experts:directory"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Twenty great" in html and "Brand new" in html and "Not yet approved" not in html
    assert "4.8" in html and "(20 ratings)" in html
    assert "New" in html
    assert "25 sessions" in html
    assert html.index("Twenty great") < html.index("Brand new")
    assert "Become an expert" in html
    assert 'style="' not in html


def test_the_directory_filters_by_category_chip_and_sorts(client_of, ada, maths, physics):
    ExpertProfileFactory(headline="Maths person", categories=[maths], sessions_completed=1)
    ExpertProfileFactory(headline="Physics person", categories=[physics], sessions_completed=9)

    filtered = client_of(ada).get(reverse("experts:directory"), {"category": "physics"}).content.decode()
    by_sessions = client_of(ada).get(reverse("experts:directory"), {"sort": "sessions"}).content.decode()

    assert "Physics person" in filtered and "Maths person" not in filtered
    assert 'aria-current="page">Physics' in filtered
    assert by_sessions.index("Physics person") < by_sessions.index("Maths person")


def test_directory_query_count_does_not_grow_with_the_page(client_of, ada):
    ExpertProfileFactory()
    client = client_of(ada)
    client.get(reverse("experts:directory"))  # warm the session
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("experts:directory"))
    for _ in range(11):
        ExpertProfileFactory(categories=[CategoryFactory(), CategoryFactory()])
    with CaptureQueriesContext(connection) as twelve:
        client.get(reverse("experts:directory"))
    assert len(twelve) == len(one)


@pytest.mark.parametrize("params", [{"sort": "worst"}, {"q": "x" * 121}, {"category": "not a slug!"}, {"page": "many"}])
def test_bad_directory_filters_answer_a_page_not_an_error(client_of, ada, params):
    response = client_of(ada).get(reverse("experts:directory"), params)
    assert response.status_code in (200, 400)


def test_the_expert_page_shows_everything_and_an_empty_feedback_list(client_of, ada, maths):
    profile = ExpertProfileFactory(
        categories=[maths], rating_count=12, rating_sum=56, sessions_completed=14, languages="English, Italian"
    )

    response = client_of(ada).get(reverse("experts:detail", args=[profile.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["recent_feedback"] == []
    for text in ("4.7", "(12 ratings)", "14 sessions completed", "Mathematics", "Italian", "Weekday evenings"):
        assert text in html
    assert "Recent feedback" in html


def test_the_expert_page_shows_feedback_items_when_given(client_of, ada):
    profile = ExpertProfileFactory()
    item = selectors.FeedbackItem(
        stars=4, text="Clear and patient", created_at=timezone.now(), requester_first_name="Bo"
    )
    selectors.set_recent_feedback_provider(lambda p, limit: [item])
    try:
        html = client_of(ada).get(reverse("experts:detail", args=[profile.pk])).content.decode()
    finally:
        selectors.set_recent_feedback_provider(None)
    assert "Clear and patient" in html and "Bo" in html and 'aria-label="4 out of 5 stars"' in html


def test_a_pending_profile_is_404_for_others_and_a_preview_for_its_owner(client_of, ada, eve):
    profile = ExpertProfileFactory(user=ada, status=Status.PENDING)

    assert client_of(eve).get(reverse("experts:detail", args=[profile.pk])).status_code == 404
    own = client_of(ada).get(reverse("experts:detail", args=[profile.pk]))
    assert own.status_code == 200
    assert "Pending review" in own.content.decode()


def test_apply_then_see_the_pending_status(client_of, ada, maths):
    client = client_of(ada)
    assert "Become an expert" in client.get(reverse("experts:apply")).content.decode()

    response = client.post(reverse("experts:apply"), form_data(maths), follow=True)

    assert response.redirect_chain[-1][0] == reverse("experts:mine")
    html = response.content.decode()
    assert "Pending review" in html
    assert ExpertProfile.objects.get(user=ada).status == Status.PENDING
    # A live application: the apply page sends you to it.
    assert client.get(reverse("experts:apply"))["Location"] == reverse("experts:mine")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"headline": ""}, "This field is required."),
        ({"bio": "b" * 3001}, "at most 3000 characters"),
        ({"categories": []}, "Choose at least one area of expertise."),
        ({"categories": [999_999]}, "Select a valid choice"),
        ({"categories": ["closed"]}, "Select a valid choice"),
    ],
)
def test_a_bad_application_shows_the_error_and_stores_nothing(client_of, ada, maths, closed, overrides, message):
    if overrides.get("categories") == ["closed"]:
        overrides = {"categories": [closed.pk]}

    response = client_of(ada).post(reverse("experts:apply"), form_data(maths, **overrides))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ExpertProfile.objects.exists()


def test_my_profile_without_one_leads_to_apply(client_of, ada):
    assert client_of(ada).get(reverse("experts:mine"))["Location"] == reverse("experts:apply")


def test_a_rejected_applicant_sees_the_note_and_applies_again_prefilled(client_of, ada, maths):
    ExpertProfileFactory(
        user=ada, status=Status.REJECTED, review_note="Tell us about your teaching.", headline="Old headline"
    )
    client = client_of(ada)

    mine = client.get(reverse("experts:mine")).content.decode()
    apply_page = client.get(reverse("experts:apply")).content.decode()
    response = client.post(reverse("experts:apply"), form_data(maths, headline="Improved"))

    assert "Not approved" in mine and "Tell us about your teaching." in mine and "Apply again" in mine
    assert 'value="Old headline"' in apply_page
    assert response.status_code == 302
    assert ExpertProfile.objects.get(user=ada).status == Status.PENDING


def test_an_approved_expert_edits_texts_but_adds_an_area_only_by_asking(client_of, ada, maths, physics):
    ExpertProfileFactory(user=ada, categories=[maths])
    client = client_of(ada)

    saved = client.post(reverse("experts:mine"), form_data(maths, headline="Sharper headline"))
    refused = client.post(reverse("experts:mine"), form_data(maths, physics, headline="Sneaky"))

    assert saved.status_code == 302
    assert refused.status_code == 400
    assert "need a review by staff: ask for each under “Ask for a new area”" in refused.content.decode()
    profile = ExpertProfile.objects.get(user=ada)
    assert profile.headline == "Sharper headline"
    assert list(profile.categories.all()) == [maths]


def test_my_profile_page_only_ever_edits_my_own(client_of, ada, eve, maths):
    theirs = ExpertProfileFactory(user=eve, headline="Eve's", categories=[maths])
    ExpertProfileFactory(user=ada, categories=[maths], status=Status.PENDING)

    client_of(ada).post(reverse("experts:mine"), {**form_data(maths), "user": eve.pk, "pk": theirs.pk})

    theirs.refresh_from_db()
    assert theirs.headline == "Eve's"
    assert ExpertProfile.objects.get(user=ada).headline == "Organic chemistry, lab reports"


def test_the_approved_expert_sees_a_link_to_their_page(client_of, ada):
    profile = ExpertProfileFactory(user=ada)
    html = client_of(ada).get(reverse("experts:mine")).content.decode()
    assert profile.get_absolute_url() in html and "Approved" in html


def test_a_deactivated_experts_page_is_404(client_of, ada):
    profile = ExpertProfileFactory(user=UserFactory(is_active=False))
    assert client_of(ada).get(reverse("experts:detail", args=[profile.pk])).status_code == 404
