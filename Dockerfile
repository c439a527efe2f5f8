# A thin image around scripts/start-production.sh (README, "Production"). The machines
# this project is built and tested on have no container runtime: the tests run the start
# script itself; keep this file to installing and calling it.
FROM python:3.11-slim-bookworm

# WeasyPrint (PDF copies, letters) needs Pango and a font; pg_dump for `flask backup`
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core postgresql-client \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --home-dir /var/lib/betaalportaal --create-home betaalportaal
WORKDIR /opt/betaalportaal
COPY . .
RUN pip install --no-cache-dir -e ".[sentry]" \
 && pybabel compile -d portal/translations >/dev/null

ENV PORTAL_INSTANCE_PATH=/var/lib/betaalportaal \
    BIND=0.0.0.0:8000 \
    PYTHONUNBUFFERED=1
USER betaalportaal
VOLUME /var/lib/betaalportaal
EXPOSE 8000
ENTRYPOINT ["/opt/betaalportaal/scripts/start-production.sh"]
CMD ["web"]
