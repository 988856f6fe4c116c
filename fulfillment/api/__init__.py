"""The REST API of SPEC §10 (Django REST framework), scoped like the admin."""
