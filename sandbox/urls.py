"""The vendor emulators and the demo integrator, mounted at /sandbox/ in
sandbox mode.

Each vendor sits under its own prefix, so a portal setting such as
JUMDATA_BASE_URL = <site>/sandbox/jumdata points at the emulator with the
vendor's own paths after it.
"""

from django.urls import path, re_path

from . import faceid, integrator, juhe, jumdata, tencent
from .trouble import trouble, troubled

app_name = "sandbox"

urlpatterns = [
    # Sandbox-only: latency and outages of every vendor endpoint below (trouble.py).
    path("trouble", trouble, name="trouble"),
    # Jumdata H5 liveness V2: the vendor's paths (no trailing slash, as documented).
    path("jumdata/lifecheck/h5/v2/init", troubled(jumdata.init), name="jumdata-init"),
    path("jumdata/lifecheck/h5/v2/html", jumdata.html, name="jumdata-html"),
    path("jumdata/lifecheck/h5/v2/result", troubled(jumdata.result), name="jumdata-result"),
    # Sandbox-only: what the emulated page posts to, and the face photo.
    path("jumdata/h5/finish", jumdata.finish, name="jumdata-finish"),
    path("jumdata/face/<slug:face_token>.jpg", jumdata.face, name="jumdata-face"),
    # Anything else under the prefix is the vendor's "404 接口地址不正确".
    re_path(r"^jumdata(?:/.*)?$", jumdata.not_found, name="jumdata-not-found"),
    # Tencent legacy 人脸核身 (recognition.image.myqcloud.com): the vendor's paths.
    path("tencent/face/livegetfour", troubled(tencent.livegetfour), name="tencent-livegetfour"),
    path("tencent/face/livedetectfour", troubled(tencent.livedetectfour), name="tencent-livedetectfour"),
    path(
        "tencent/face/idcardlivedetectfour", troubled(tencent.idcardlivedetectfour), name="tencent-idcardlivedetectfour"
    ),
    path("tencent/face/idcardcompare", troubled(tencent.idcardcompare), name="tencent-idcardcompare"),
    path("tencent/face/livedetectpicture", troubled(tencent.livedetectpicture), name="tencent-livedetectpicture"),
    # Sandbox-only: queue the next answer of an endpoint.
    path("tencent/steer", tencent.steer, name="tencent-steer"),
    re_path(r"^tencent(?:/.*)?$", tencent.not_found, name="tencent-not-found"),
    # Juhe (apis.juhe.cn): the vendor's paths, "vedio" spelt as documented.
    path("juhe/face_vedio/verify", troubled(juhe.verify), name="juhe-verify"),
    path("juhe/videoAuth/query", troubled(juhe.query), name="juhe-query"),
    # Sandbox-only: the videoAuth `pictures` (shaped like the vendor's URLs),
    # and the steering page.
    path("juhe/videoAuth/face-store-njb", juhe.picture, name="juhe-picture"),
    path("juhe/steer", juhe.steer, name="juhe-steer"),
    re_path(r"^juhe(?:/.*)?$", juhe.not_found, name="juhe-not-found"),
    # Tencent Cloud FaceID: the API itself answers at POST / of the host
    # (faceid.RootEndpointMiddleware); here its emulated H5 page and steering.
    path("faceid/h5", faceid.h5, name="faceid-h5"),
    path("faceid/h5/finish", faceid.finish, name="faceid-finish"),
    path("faceid/steer", faceid.steer, name="faceid-steer"),
    # The demo integrator: an emulated product team using the portal's API
    # (its pages redirect to their own origin; see sandbox/integrator.py).
    path("integrator/", integrator.page, name="integrator-page"),
    path("integrator/sessions", integrator.sessions, name="integrator-sessions"),
    path("integrator/sessions/<uuid:session_id>", integrator.session_detail, name="integrator-session"),
    path("integrator/return", integrator.return_page, name="integrator-return"),
    path("integrator/webhooks", integrator.webhooks, name="integrator-webhooks"),
    path("integrator/webhooks/fail-next", integrator.fail_next, name="integrator-fail-next"),
    path("integrator/webhooks.json", integrator.webhooks_json, name="integrator-webhooks-json"),
]
