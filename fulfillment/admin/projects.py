"""Projects in the admin: titles, prices (staff) and the Advanced Settings (eCommerceIDString)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages

from fulfillment import ecommerce_ids
from fulfillment.models import Project
from fulfillment.selectors import publisher_for_user, publishers_for_user
from fulfillment.services.projects import project_save, project_shared_ids

from .base import PublisherScopedAdmin, is_staff_request, money_html, user_publisher_ids

if TYPE_CHECKING:
    from django.db.models import Field
    from django.forms import ModelForm
    from django.http import HttpRequest

ADVANCED_HELP = (
    "Link this project to SamCart: every purchase of a product listed here becomes a TrepStar "
    f"order for this project. Example: {ecommerce_ids.EXAMPLE}"
)
SHARED_WARNING = (
    "SamCart product ID {id} is also listed by {projects}: a purchase of it creates one order "
    "for each of these projects (a bundle). Remove it from one of them if that is not meant."
)


def shared_warning(project: Project) -> list[str]:
    """Return one warning per SamCart id that another project of the publisher also lists."""
    return [
        SHARED_WARNING.format(id=i, projects=", ".join(f"“{p.title}”" for p in others))
        for i, others in project_shared_ids(project=project).items()
    ]


@admin.register(Project)
class ProjectAdmin(PublisherScopedAdmin):
    """Projects: publishers set titles and SamCart ids; staff also set prices and owners."""

    list_display = (
        "title",
        "publisher_name",
        "samcart_ids",
        "unit_price",
        "shipping_price",
        "is_active",
    )
    list_display_links = ("title",)
    list_filter = ("is_active", "publisher")
    list_select_related = ("publisher",)
    search_fields = ("title", "ecommerce_id_string")
    staff_only_columns = ("publisher_name",)
    staff_only_filters = ("publisher",)
    autocomplete_fields = ("publisher",)
    readonly_fields = ("created_at", "updated_at")

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
            return ["unit_cost", "shipping_cost"]
        return ["unit_price", "shipping_price"]

    def get_readonly_fields(self, request: HttpRequest, obj: Project | None = None) -> list[str]:
        """Prices are set by TrepStar staff; publishers read them."""
        fields = list(super().get_readonly_fields(request, obj))
        if not is_staff_request(request):
            fields += ["unit_price", "shipping_price"]
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

    def save_model(self, request: HttpRequest, obj: Project, form: ModelForm, change: bool) -> None:
        """Save through `project_save` (normalise, validate, re-index) and warn about bundles."""
        if not change and not self._chooses_publisher(request):
            obj.publisher = publisher_for_user(request.user)
        project_save(project=obj)
        for warning in shared_warning(obj):
            messages.warning(request, warning)
