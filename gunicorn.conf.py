"""Gunicorn settings for the portal (`gunicorn -c gunicorn.conf.py`).

Threaded workers: a request waiting on a vendor (up to the read timeout)
must not hold a whole process, and in sandbox mode the portal calls its own
emulator, which a single synchronous worker would deadlock on."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
wsgi_app = "kyc_portal.wsgi:application"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Longer than the vendor read timeout (15 s) plus a video upload.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so a slow leak never grows for ever. Not
# often: a new worker costs about a second of CPU to start (Django and the
# portal imported, measured), and while it starts the other takes every
# request. At 2,000 a status poll twice a second per waiting person made
# that every minute or so under load, half a millisecond a request.
max_requests = 20000
max_requests_jitter = 2000
limit_request_line = 8190
limit_request_fields = 100
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# Gunicorn's default line, then the request's time in microseconds as
# gunicorn saw it and the portal's own Server-Timing (app and db time).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)sus "%({server-timing}o)s"'
errorlog = "-"
# Request lines and referrers hold link tokens: redacted like every other log.
logger_class = "kyc_portal.gunicorn_logging.RedactingLogger"
