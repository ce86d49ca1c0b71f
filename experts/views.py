"""The expert pages: directory, expert page, application, and the applicant's own page.

Adapters: parse, call one service or selector, render. Mounted at /experts/ (namespace "experts").
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.refusals import add_refusal_to_form
from experts import selectors, services
from experts.forms import AreaRequestForm, DirectoryFilterForm, ExpertApplicationForm
from experts.models import ExpertProfile
from notifications import services as notification_services

PAGE_SIZE = 12


@login_required
@require_GET
def directory(request: HttpRequest) -> HttpResponse:
    form = DirectoryFilterForm(request.GET or None)
    filters = form.filters()
    experts = selectors.expert_directory(**filters)
    page_obj = Paginator(experts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page_obj": page_obj,
        "categories": selectors.active_categories(),
        "current_category": filters["category_slug"],
        "current_sort": filters["sort"],
        "q": filters["q"],
        "sort_label": selectors.SORTS.get(filters["sort"], selectors.SORTS[selectors.SORT_RATING]),
        "filtered": bool(filters["q"] or filters["category_slug"]),
        "my_profile": selectors.expert_for_user(user=request.user),
    }
    return render(request, "experts/directory.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    profile = selectors.expert_detail(pk=pk, viewer=request.user)
    if profile is None:
        raise Http404("No such expert.")
    if profile.user_id == request.user.pk:
        notification_services.mark_read_for_subject(user=request.user, subject=reverse("experts:detail", args=[pk]))
    context = {
        "profile": profile,
        "person": profile.user,
        "is_me": profile.user_id == request.user.pk,
        # "Ask <name> for help" (a helpdesk page): an approved expert, no block either way.
        "can_ask": selectors.can_be_asked(asker=request.user, profile=profile),
        # Filled by helpdesk's ratings once it registers its provider (see selectors); empty before.
        "recent_feedback": selectors.recent_feedback_for(profile=profile),
    }
    return render(request, "experts/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest) -> HttpResponse:
    """Become an expert (or apply again after a rejection). With a live application, go to it."""
    profile = selectors.expert_for_user(user=request.user)
    if profile is not None and profile.status != ExpertProfile.Status.REJECTED:
        return redirect("experts:mine")
    if request.method == "POST":
        form = ExpertApplicationForm(request.POST)
        if form.is_valid():
            try:
                services.apply_as_expert(user=request.user, **form.service_kwargs())
            except services.ExpertRefusal as refusal:
                add_refusal_to_form(form, refusal)
            else:
                messages.success(request, "Thank you! Your application is with our staff; we will let you know.")
                return redirect("experts:mine")
    else:
        initial = ExpertApplicationForm.initial_for(profile) if profile is not None else None
        form = ExpertApplicationForm(initial=initial)
    context = {"form": form, "profile": profile}
    return render(request, "experts/apply.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def mine(request: HttpRequest) -> HttpResponse:
    """My expert profile: the application's status and the staff note, and the edit form."""
    profile = selectors.expert_for_user(user=request.user)
    if profile is None:
        return redirect("experts:apply")
    editable = profile.status != ExpertProfile.Status.REJECTED
    approved = profile if profile.status == ExpertProfile.Status.APPROVED else None
    if request.method == "POST" and editable:
        form = ExpertApplicationForm(request.POST, approved=approved)
        if form.is_valid():
            try:
                services.update_expert_profile(user=request.user, **form.service_kwargs())
            except services.ExpertRefusal as refusal:
                add_refusal_to_form(form, refusal)
            else:
                messages.success(request, "Your expert profile is saved.")
                return redirect("experts:mine")
    elif request.method == "POST":
        return redirect("experts:apply")
    else:
        form = ExpertApplicationForm(initial=ExpertApplicationForm.initial_for(profile), approved=approved)
        notification_services.mark_read_for_subject(user=request.user, subject=reverse("experts:mine"))
    return _render_mine(request, profile, form=form, editable=editable)


def _render_mine(
    request: HttpRequest,
    profile: ExpertProfile,
    *,
    form: ExpertApplicationForm | None = None,
    area_form: AreaRequestForm | None = None,
    editable: bool = True,
) -> HttpResponse:
    approved = profile.status == ExpertProfile.Status.APPROVED
    if form is None:
        form = ExpertApplicationForm(
            initial=ExpertApplicationForm.initial_for(profile), approved=profile if approved else None
        )
    if area_form is None and approved:
        area_form = AreaRequestForm(profile=profile)
    context = {
        "profile": profile,
        "form": form,
        "editable": editable,
        "area_form": area_form,
        "area_requests": selectors.area_requests_for(profile=profile),
        "max_categories": services.MAX_CATEGORIES,
    }
    failed = form.errors or (area_form is not None and area_form.errors)
    return render(request, "experts/mine.html", context, status=400 if failed else 200)


@login_required
@require_POST
def request_area(request: HttpRequest) -> HttpResponse:
    """An approved expert asks for a new area of expertise (shown pending on their page)."""
    profile = selectors.expert_for_user(user=request.user)
    if profile is None:
        return redirect("experts:apply")
    area_form = AreaRequestForm(request.POST, profile=profile)
    if area_form.is_valid():
        try:
            area_request = services.request_expertise_area(user=request.user, **area_form.service_kwargs())
        except services.ExpertRefusal as refusal:
            add_refusal_to_form(area_form, refusal)
        else:
            messages.success(
                request, f"You asked for {area_request.category.name}. Our staff will review it; we will let you know."
            )
            return redirect("experts:mine")
    return _render_mine(request, profile, area_form=area_form, editable=profile.status != ExpertProfile.Status.REJECTED)
