"""The production URLs plus the bench references (bench settings only)."""

from django.urls import path

from trepstar.urls import urlpatterns as production

from .views import fixed_json, insert_one_row

urlpatterns = [
    *production,
    path("bench/fixed/", fixed_json, name="bench-fixed"),
    path("bench/insert/", insert_one_row, name="bench-insert"),
]
