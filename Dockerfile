# syntax=docker/dockerfile:1
# One image for every MaaS process of the distributed deployment: collectors (`maas collect`),
# engine pools (`maas engine pool NAME --metrics-port 9102`), `maas routing setup`, `maas dlq …`.
#
#   docker build -t maas:0.1.0 .
#   docker run --rm maas:0.1.0 --help
#
# The packaged CDS configuration (collectors, routing file) is inside the wheel, so the routing
# file always matches the engines of the same image. The settings file comes from outside
# (MAAS_CONFIG, e.g. a compose config or a Kubernetes ConfigMap), secrets as env:/file: references.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY maas ./maas
COPY cds ./cds
COPY maas_cli ./maas_cli
# Wheels for the project and every dependency, so the runtime stage installs offline and
# carries no compiler, no pip cache and no source tree.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ARG MAAS_UID=10001
RUN groupadd --system --gid "${MAAS_UID}" maas \
    && useradd --system --uid "${MAAS_UID}" --gid maas --home-dir /var/lib/maas --no-create-home \
       --shell /usr/sbin/nologin maas \
    && mkdir -p /var/lib/maas/archive /var/lib/maas/state /etc/maas \
    && chown -R maas:maas /var/lib/maas
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels /wheels/maas-*.whl

# No MAAS_* variables here: they would override the operator's settings file. The working
# directory makes the relative defaults (archive "backups", state ".maas") land in the volume.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/maas
USER ${MAAS_UID}:${MAAS_UID}
EXPOSE 9102

# Engine pools serve /health on 9102; other uses (collectors, one-shots) set their own check.
# No curl in the slim image: the interpreter that runs MaaS is the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9102/health', timeout=4)"]

ENTRYPOINT ["maas"]
CMD ["--help"]
