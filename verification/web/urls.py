"""The URL map: every route of the end-user flow, the integration API and
the demo, each to its view (the admin is mounted in kyc_portal/urls.py)."""

from django.urls import path

from . import api, demo, openapi, views

app_name = "verification"

urlpatterns = [
    path("", demo.landing, name="landing"),
    path("demo/sessions", demo.demo_start, name="demo_start"),
    path("api/v1/sessions", api.sessions, name="api_sessions"),
    path("api/v1/sessions/<str:session_id>", api.session_detail, name="api_session_detail"),
    path("api/v1/sessions/<str:session_id>/cancel", api.session_cancel_view, name="api_session_cancel"),
    path("api/v1/events", api.events, name="api_events"),
    path("api/v1/openapi.json", openapi.document_view, name="api_openapi"),
    path("docs/api", openapi.reference_page, name="api_reference"),
    path("v/<str:token>/", views.entry, name="entry"),
    path("v/<str:token>/consent", views.consent, name="consent"),
    path("v/<str:token>/route", views.route, name="route"),
    path("v/<str:token>/decline", views.decline, name="decline"),
    path("v/<str:token>/language", views.language, name="language"),
    path("v/<str:token>/h5/start", views.h5_start, name="h5_start"),
    path("v/<str:token>/h5/return", views.h5_return, name="h5_return"),
    path("v/<str:token>/challenge", views.challenge, name="challenge"),
    path("v/<str:token>/video", views.video, name="video"),
    path("v/<str:token>/photo", views.photo, name="photo"),
    path("v/<str:token>/status", views.status, name="status"),
    path("v/<str:token>/handoff", views.hand_off, name="handoff"),
    path("h/<str:code>", views.handoff_open, name="handoff_open"),
]
