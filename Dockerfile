# The sabong sandbox as a container image: how a Go, Java, PHP or Node partner starts it as a
# CI service. `docker build -t sabong-sandbox .` or `podman build -t sabong-sandbox .`
#
#   docker run --rm -p 8080:8080 -e SANDBOX_CONTROL_TOKEN=change-me sabong-sandbox
#
# It listens on 0.0.0.0:8080 inside the container, with the built-in scenarios (the magic
# clientIds) and an in-memory ledger; every SANDBOX_* variable of the README's configuration
# table works. Reachable from outside, its control plane (/__sandbox/) needs a bearer token:
# SANDBOX_CONTROL_TOKEN, else one is generated and printed on stderr at start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY sandbox ./sandbox
RUN pip install --no-compile . \
    && rm -rf /src \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin sandbox

USER sandbox
WORKDIR /home/sandbox
ENV SANDBOX_HOST=0.0.0.0 \
    SANDBOX_PORT=8080 \
    SANDBOX_DB=:memory:
EXPOSE 8080

HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/__sandbox/health' % os.environ.get('SANDBOX_PORT', '8080'), timeout=2)"]

# SIGTERM (docker stop, the end of a CI job) stops the server with exit code 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["sabong-sandbox", "serve"]
