# One image for every process of the portal: the web process (the default
# command), the task worker (`python manage.py db_worker`) and the release
# step run once per deployment (`python manage.py release`). deploy/ shows
# them together.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements.txt /tmp/requirements.txt
RUN /venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=8000
RUN useradd --create-home --uid 10001 kyc
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=10001:10001 . .
# collectstatic needs settings that load: build-only keys, never used at run time.
RUN SECRET_KEY=build-only DEBUG=0 KYC_FIELD_KEYS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    KYC_SEARCH_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= python manage.py collectstatic --noinput \
    && mkdir -p /app/media && chown 10001:10001 /app/media && chmod 0700 /app/media
USER 10001
EXPOSE 8000
# /healthz is answered before the host check, so 127.0.0.1 is fine here.
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['PORT'], timeout=2)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
