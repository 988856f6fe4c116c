"""Projects in the admin: titles, prices (staff) and the Advanced Settings (eCommerceIDString)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from fulfillment import ecommerce_ids
from fulfillment.models import OrderLine, Project
from fulfillment.selectors import (
    cart_ids_of_other_projects,
    notifications_naming,
    publisher_for_user,
    publishers_for_user,
)
from fulfillment.services.projects import (
    prices_check_confirmable,
    project_check_move,
    project_prices_set,
    project_save,
    project_shared_ids,
)

from .base import PublisherScopedAdmin, is_staff_request, money_html, user_publisher_ids
from .reprocess_named import reprocess_offer

if TYPE_CHECKING:
    from django.db.models import Field
    from django.http import HttpRequest

ADVANCED_HELP = (
    "Link this project to SamCart: every purchase of a product listed here becomes a TrepStar "
    f"order for this project. Example: {ecommerce_ids.EXAMPLE}"
)
PRICES_CONFIRMED_HELP = (
    "Ticked, saving confirms these prices: hold orders of this project are re-priced and, "
    "with the publisher's auto release, released. Untick to keep every order of this project "
    "on hold (price not confirmed)."
)
PRICES_PENDING = (
    "Pending: TrepStar has not confirmed the prices of this project yet. Its orders wait on hold "
    "(price not confirmed) and nothing is charged or produced until TrepStar confirms them."
)
PRICES_CONFIRMED = "Confirmed by TrepStar."
SHARED_WARNING = (
    "SamCart product ID {id} is also listed by {projects}: a purchase of it creates one order "
    "for each of these projects (a bundle). Remove it from one of them if that is not meant."
)


PROTECTING_BOX = 'Order <a href="{}">#{}</a> (SamCart order {}, {}) has {} of {}'


def protecting_boxes(projects: Any) -> list[str]:
    """Return one linked line per order (box) holding a line of `projects`, oldest first."""
    lines = (
        OrderLine.objects.filter(project__in=list(projects))
        .select_related("order", "project")
        .order_by("order_id", "id")
    )
    named: dict[int, str] = {}
    for line in lines:
        box = line.order
        named.setdefault(
            box.pk,
            format_html(
                PROTECTING_BOX,
                reverse("admin:fulfillment_order_change", args=[box.pk]),
                box.pk,
                box.external_order_id,
                box.get_status_display(),
                f"{line.quantity} cop{'y' if line.quantity == 1 else 'ies'}",
                line.project.title,
            ),
        )
    return list(named.values())


def shared_warning(project: Project) -> list[str]:
    """Return one warning per SamCart id that another project of the publisher also lists."""
    return [
        SHARED_WARNING.format(id=i, projects=", ".join(f"“{p.title}”" for p in others))
        for i, others in project_shared_ids(project=project).items()
    ]


class ProjectForm(forms.ModelForm):
    """The project form; for staff editing a project "prices confirmed" starts ticked: saving
    prices confirms. A new project starts unconfirmed: its prices are not set yet, and a
    ticked box made its orders cost $0.00 (issue 20, point 8)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Tick "prices confirmed" by default where the form has it (staff), on an existing
        project only."""
        super().__init__(*args, **kwargs)
        if "prices_confirmed" in self.fields:
            self.initial["prices_confirmed"] = self.instance.pk is not None
            self.fields["prices_confirmed"].help_text = PRICES_CONFIRMED_HELP

    def clean(self) -> dict[str, Any]:
        """Refuse to confirm prices that are both zero, or to move a project with orders."""
        data = super().clean()
        if data.get("publisher") is not None:
            try:
                project_check_move(project=self.instance, publisher_id=data["publisher"].pk)
            except ValidationError as error:
                self.add_error(None, error)
        if data.get("prices_confirmed") and {"unit_cost", "shipping_cost"} <= data.keys():
            try:
                prices_check_confirmable(
                    unit_cost=data["unit_cost"], shipping_cost=data["shipping_cost"]
                )
            except ValidationError as error:
                self.add_error(None, error)
        return data


@admin.register(Project)
class ProjectAdmin(PublisherScopedAdmin):
    """Projects: publishers set titles and SamCart ids; staff also set prices and owners."""

    form = ProjectForm
    list_display = (
        "title",
        "publisher_name",
        "samcart_ids",
        "unit_price",
        "shipping_price",
        "prices_confirmed",
        "is_active",
    )
    list_display_links = ("title",)
    list_filter = ("prices_confirmed", "is_active", "publisher")
    list_select_related = ("publisher",)
    search_fields = ("title", "ecommerce_id_string")
    staff_only_columns = ("publisher_name",)
    staff_only_filters = ("publisher",)
    autocomplete_fields = ("publisher",)
    readonly_fields = ("created_at", "updated_at")

    class Media:
        js = ("fulfillment/project_form.js",)

    empty_text = (
        "No projects yet. Add a project for each product you sell on SamCart and list its"
        " SamCart product ids in Advanced Settings → eCommerceIDString."
    )

    @admin.display(description="publisher", ordering="publisher__name")
    def publisher_name(self, obj: Project) -> str:
        """Show the publisher's name (staff only)."""
        return obj.publisher.name

    @admin.display(description="SamCart product IDs", ordering="ecommerce_id_string")
    def samcart_ids(self, obj: Project) -> str:
        """Show the eCommerceIDString, or say the project is not linked."""
        return obj.ecommerce_id_string or "— not linked —"

    @admin.display(description="price per copy", ordering="unit_cost")
    def unit_price(self, obj: Project) -> str:
        """Show the price per copy as money."""
        return money_html(obj.unit_cost)

    @admin.display(description="shipping per order", ordering="shipping_cost")
    def shipping_price(self, obj: Project) -> str:
        """Show the shipping price per order as money."""
        return money_html(obj.shipping_cost)

    @admin.display(description="prices")
    def price_status(self, obj: Project | None) -> str:
        """Say whether TrepStar confirmed the prices (the publisher's view of them)."""
        if obj is not None and obj.prices_confirmed:
            return PRICES_CONFIRMED
        return PRICES_PENDING

    def _chooses_publisher(self, request: HttpRequest) -> bool:
        """Tell whether the form shows the publisher (staff, or a user of several publishers)."""
        return is_staff_request(request) or publishers_for_user(request.user).count() > 1

    def get_fieldsets(self, request: HttpRequest, obj: Project | None = None) -> list[Any]:
        """Lay the form out: project, prices, then the Advanced Settings."""
        main = ["title", "is_active"]
        if self._chooses_publisher(request):
            main.insert(0, "publisher")
        sets: list[Any] = [
            (None, {"fields": main}),
            ("Prices", {"fields": self._price_fields(request)}),
            (
                "Advanced Settings",
                {"fields": ["ecommerce_id_string"], "description": ADVANCED_HELP},
            ),
        ]
        if obj is not None:
            sets.append(("Record", {"fields": ["created_at", "updated_at"]}))
        return sets

    @staticmethod
    def _price_fields(request: HttpRequest) -> list[str]:
        """Return the price inputs for staff, or their read-only money displays."""
        if is_staff_request(request):
            return ["unit_cost", "shipping_cost", "prices_confirmed"]
        return ["price_status", "unit_price", "shipping_price"]

    def get_readonly_fields(self, request: HttpRequest, obj: Project | None = None) -> list[str]:
        """Prices are set by TrepStar staff; publishers read them."""
        fields = list(super().get_readonly_fields(request, obj))
        if not is_staff_request(request):
            fields += ["price_status", "unit_price", "shipping_price"]
        return fields

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> Any:
        """Keep the label "eCommerceIDString" as SamCart people write it (not capitalised)."""
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "ecommerce_id_string" and formfield is not None:
            formfield.label = db_field.verbose_name
        return formfield

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        """Use the publisher search box for staff only (publishers have a short scoped list)."""
        return self.autocomplete_fields if is_staff_request(request) else ()

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Let staff and users linked to a publisher add projects."""
        linked = is_staff_request(request) or bool(user_publisher_ids(request))
        return linked and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Project | None = None) -> bool:
        """Only staff delete projects (and only those without orders: orders protect them)."""
        return is_staff_request(request) and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        """Name the orders (boxes) that protect a project from deletion, each once with a link,
        rather than their lines: a project is in a box through a line of it."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if protected:
            protected = protecting_boxes(objs)
        return deleted, counts, perms_needed, protected

    def save_model(
        self, request: HttpRequest, obj: Project, form: forms.ModelForm, change: bool
    ) -> None:
        """Save through the services and warn about bundles.

        Staff save through `project_prices_set` (their form has the prices and the "prices
        confirmed" box; hold orders follow, the message says how many); publishers through
        `project_save`, which never touches prices or their confirmation.
        """
        if not change and not self._chooses_publisher(request):
            obj.publisher = publisher_for_user(request.user)
        if is_staff_request(request):
            result = project_prices_set(
                project=obj,
                unit_cost=obj.unit_cost,
                shipping_cost=obj.shipping_cost,
                confirmed=obj.prices_confirmed,
                actor=request.user,
            )
            if result.moved:
                messages.info(request, result.message)
        else:
            project_save(project=obj, actor=request.user)
        for warning in shared_warning(obj):
            messages.warning(request, warning)
        named, ids = notifications_naming(
            obj.publisher, set(ecommerce_ids.parse(obj.ecommerce_id_string))
        )
        offer = reprocess_offer(named, ids)
        if offer:
            messages.info(request, offer)

    def get_form(
        self, request: HttpRequest, obj: Project | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        """Give the eCommerceIDString input the ids of the other projects, for the live warning.

        `project_form.js` warns as the person types an id another project lists (a bundle);
        the warnings of the stored value are in the help text too, for a page without scripts.
        """
        form = super().get_form(request, obj, change=change, **kwargs)
        field = form.base_fields.get("ecommerce_id_string")
        publisher_id = obj.publisher_id if obj is not None else self._own_publisher_id(request)
        if field is None or publisher_id is None:
            return form
        shared = cart_ids_of_other_projects(
            publisher_id=publisher_id, project_id=obj.pk if obj is not None else None
        )
        field.widget.attrs["data-shared-ids"] = json.dumps(shared)
        field.widget.attrs["data-warning-template"] = SHARED_WARNING
        if obj is not None:
            field.help_text = " ".join([str(field.help_text or ""), *shared_warning(obj)]).strip()
        return form

    @staticmethod
    def _own_publisher_id(request: HttpRequest) -> int | None:
        """Return the id of the one publisher the login acts for (None for staff or several)."""
        ids = user_publisher_ids(request)
        return next(iter(ids)) if len(ids) == 1 else None
