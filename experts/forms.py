from django import forms

from config.inputs import ModelIdsChoiceField
from experts import selectors, services
from experts.models import Category, ExpertProfile

SEARCH_MAX_LENGTH = 120


class DirectoryFilterForm(forms.Form):
    """The expert directory's filters (GET). Every field is optional."""

    q = forms.CharField(
        label="Search",
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Name or topic", "type": "search", "autocomplete": "off"}),
    )
    category = forms.SlugField(max_length=80, required=False)
    sort = forms.ChoiceField(
        label="Sort by", choices=list(selectors.SORTS.items()), required=False, initial=selectors.SORT_RATING
    )

    def filters(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {
            "q": (data.get("q") or "").strip(),
            "category_slug": data.get("category") or "",
            "sort": data.get("sort") or selectors.SORT_RATING,
        }


class CategoryChoices(ModelIdsChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return obj.name


class ExpertApplicationForm(forms.Form):
    """Apply, apply again, or edit: the fields of an expert profile. The service re-checks all of it."""

    headline = forms.CharField(
        max_length=services.HEADLINE_MAX,
        help_text="One line students see first, e.g. “PhD student in statistics — R, regression, exam prep”.",
        widget=forms.TextInput(attrs={"placeholder": "What you can help with, in one line"}),
    )
    categories = CategoryChoices(
        label="Areas of expertise",
        queryset=Category.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=f"Choose up to {services.MAX_CATEGORIES}. Requests in these areas will reach you.",
        error_messages={"required": "Choose at least one area of expertise."},
    )
    bio = forms.CharField(
        label="About you",
        max_length=services.BIO_MAX,
        help_text="Your background, what you have taught or built, and how you like to help.",
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": services.BIO_MAX}),
    )
    languages = forms.CharField(
        max_length=services.LANGUAGES_MAX,
        required=False,
        help_text="Separate several with commas.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. English, Italian"}),
    )
    availability_note = forms.CharField(
        label="Availability",
        max_length=services.AVAILABILITY_MAX,
        required=False,
        help_text="When students can usually meet you.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Weekday evenings, CET"}),
    )

    def __init__(self, *args, approved: ExpertProfile | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = selectors.active_categories()
        if approved is not None:
            # An approved expert keeps or drops their areas here; new ones are asked for (AreaRequestForm).
            self.fields["categories"].queryset = selectors.active_categories().filter(experts=approved)
            self.fields["categories"].help_text = "Untick an area to stop receiving its requests."
            self.fields["categories"].error_messages["invalid_choice"] = (
                "New areas of expertise need a review by staff: ask for each under “Ask for a new area”."
            )

    def clean_categories(self):
        categories = self.cleaned_data["categories"]
        if len(categories) > services.MAX_CATEGORIES:
            raise forms.ValidationError(
                f"Choose at most {services.MAX_CATEGORIES} areas of expertise.", code="too_many_areas"
            )
        return categories

    @classmethod
    def initial_for(cls, profile: ExpertProfile) -> dict:
        return {
            "headline": profile.headline,
            "bio": profile.bio,
            "languages": profile.languages,
            "availability_note": profile.availability_note,
            "categories": [category.pk for category in profile.categories.all()],
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "headline": data["headline"],
            "bio": data["bio"],
            "category_ids": [category.pk for category in data["categories"]],
            "languages": data["languages"],
            "availability_note": data["availability_note"],
        }


class AreaRequestForm(forms.Form):
    """An approved expert asks for one more area (the service checks the rules again)."""

    category = forms.ModelChoiceField(
        label="Area of expertise", queryset=Category.objects.none(), empty_label="Choose an area…"
    )
    motivation = forms.CharField(
        label="Your experience in it",
        max_length=services.AREA_MOTIVATION_MAX,
        required=False,
        help_text="Optional: a line for our staff (a degree, a course you teach, years of practice).",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": services.AREA_MOTIVATION_MAX}),
    )

    def __init__(self, *args, profile: ExpertProfile, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = selectors.requestable_categories(profile=profile)

    def service_kwargs(self) -> dict:
        return {"category_id": self.cleaned_data["category"].pk, "motivation": self.cleaned_data["motivation"]}
