# The reference app as a production image: the pinned packages, the PostgreSQL driver,
# a non-root user. docker-compose.yml runs it (and its migrations) next to PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 10001 app
WORKDIR /app

# The lock pins every version (as constraints, so only what the app needs is installed).
# Editable, so data/seed and alembic.ini are found beside the package, as in a checkout.
COPY binder/requirements.txt binder/requirements.txt
RUN sed '/^-e /d' binder/requirements.txt > /tmp/constraints.txt
COPY pyproject.toml README.md alembic.ini ./
COPY data/seed data/seed
COPY workshop_app workshop_app
RUN pip install --constraint /tmp/constraints.txt --editable ".[postgres]"

USER app
EXPOSE 8000
# --proxy-headers trusts X-Forwarded-* only from FORWARDED_ALLOW_IPS (default 127.0.0.1):
# set it to the reverse proxy's address when one is in front.
CMD ["uvicorn", "workshop_app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
