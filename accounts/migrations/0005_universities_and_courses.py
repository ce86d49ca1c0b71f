import unicodedata

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import Min

MAX_LENGTH = 120


def _key(name: str) -> str:
    # A copy of accounts.models.study_name_key as of this migration (a migration must not change
    # meaning when the model module does).
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(char for char in decomposed.casefold() if char.isalnum())[:MAX_LENGTH]


def _clean(name: str) -> str:
    return " ".join((name or "").split())


def list_existing_studies(apps, schema_editor):
    """Every university and course users typed before the lists existed becomes an entry: the
    earliest account's spelling is kept, and every account is rewritten to it (so "northbridge
    univ." and "Northbridge Univ" are one entry shown one way). A course without a university,
    or a name without letters or digits, is left as it was, outside the lists."""
    User = apps.get_model("accounts", "User")
    University = apps.get_model("accounts", "University")
    Course = apps.get_model("accounts", "Course")
    universities: dict[str, object] = {}
    courses: dict[tuple[int, str], object] = {}
    pairs = (
        User.objects.exclude(university="")
        .values("university", "course")
        .annotate(first=Min("pk"))
        .order_by("first", "university", "course")
    )
    for pair in pairs.iterator():
        typed_university, typed_course = pair["university"], pair["course"]
        university_key = _key(typed_university)
        if not university_key:
            continue
        university = universities.get(university_key)
        if university is None:
            university = University.objects.create(name=_clean(typed_university)[:MAX_LENGTH], key=university_key)
            universities[university_key] = university
        course_name = ""
        course_key = _key(typed_course)
        if course_key:
            course = courses.get((university.pk, course_key))
            if course is None:
                course = Course.objects.create(
                    university=university, name=_clean(typed_course)[:MAX_LENGTH], key=course_key
                )
                courses[(university.pk, course_key)] = course
            course_name = course.name
        elif typed_course.strip():
            course_name = typed_course
        if (typed_university, typed_course) != (university.name, course_name):
            User.objects.filter(university=typed_university, course=typed_course).update(
                university=university.name, course=course_name
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_time_zone_validated_not_enumerated"),
    ]

    operations = [
        migrations.CreateModel(
            name="University",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=120)),
                ("key", models.CharField(editable=False, max_length=120, unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                "verbose_name_plural": "universities",
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="Course",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=120)),
                ("key", models.CharField(editable=False, max_length=120)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                (
                    "university",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="courses", to="accounts.university"
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.UniqueConstraint(fields=("university", "key"), name="accounts_course_unique_key")
                ],
            },
        ),
        migrations.RunPython(list_existing_studies, migrations.RunPython.noop, elidable=False),
    ]
