# The hub's image: `hub` on Python 3.11, running as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HUB_DATA_DIR=/var/lib/hub HUB_LOG_FORMAT=json
RUN useradd --system --uid 10001 --home-dir /var/lib/hub hub \
    && mkdir -p /var/lib/hub && chown hub /var/lib/hub
WORKDIR /opt/hub
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY keys ./keys
COPY clients ./clients
RUN pip install . && rm -rf /opt/hub/build
COPY docker/entrypoint.sh /usr/local/bin/hub-entrypoint
USER hub
ENTRYPOINT ["hub-entrypoint"]
CMD ["serve"]
