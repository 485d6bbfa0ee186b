# The panel image: Django (gunicorn), Celery worker and beat all run from it; docker-compose's
# optional demo Airflow too (the test harness installs Airflow into a volume at first start).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# python-ldap (LDAP sign-in) is compiled against OpenLDAP and SASL: build tools and headers for
# the install, the run-time libraries kept; the compiler is removed in the same layer.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libldap-2.5-0 libsasl2-2 \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY requirements/constraints.txt requirements/constraints.txt
COPY controlpanel controlpanel
COPY dags_api dags_api
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libldap2-dev libsasl2-dev \
    && pip install --no-cache-dir -c requirements/constraints.txt . \
    && apt-get purge -y --auto-remove build-essential libldap2-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*

COPY manage.py ./
COPY templates templates
COPY static static
COPY tests/__init__.py tests/__init__.py
COPY tests/harness tests/harness
RUN SECRET_KEY=collectstatic-only-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') \
    python manage.py collectstatic --noinput

# The demo Airflow's volumes (its home, the harness's venv cache) and the audit checkpoint
# volume start owned by the user.
RUN useradd --create-home --uid 10001 panel \
    && mkdir -p /app/var/audit-checkpoints /data/airflow /home/panel/.cache/airflow-control-panel \
    && chown panel /app/var /app/var/audit-checkpoints /data/airflow \
    && chown -R panel /home/panel/.cache
USER panel
EXPOSE 8000
# gunicorn kills a worker after --timeout seconds even while it streams: the audit CSV of a
# million events takes 15-30 s, so the default 30 s would cut a bigger trail's download.
CMD ["gunicorn", "controlpanel.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300"]
