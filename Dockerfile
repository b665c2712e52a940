# The mlci action image: a release pushes it to ghcr.io and pins action.yml to its digest
# (.github/workflows/release.yml); `uses: <owner>/mlci@<other sha>` builds it. Dependencies are pinned
# (requirements/action.txt, compiled from requirements/action.in) and installed before mlci's
# code, in a build stage; the image keeps the virtual environment, the git binary, and nothing
# else. Training, tests and scoring run in the project's own environment image, never here (about
# 270 MB, benchmarks/README.md). The nightly `mlci monitor` installs its own dependencies
# (requirements/monitor.txt: numpy, pandas, scipy, scikit-learn, pyarrow, fsspec, ~420 MB) with
# uv when it first runs, and a run with `executor: ray` the Ray Client and the partitioned merges'
# (requirements/ray.txt: ray[client], numpy, pandas, pandera, pyarrow, ~540 MB), so the pull
# requests' jobs do not pull them (mlci_action/github/own_env.py).
FROM python:3.12-slim AS build
# Extra CAs (.github/certs/*.crt) for builds behind a TLS-intercepting proxy.
COPY .github/certs/ /tmp/certs/
RUN cat /tmp/certs/*.crt >> /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# mlci runs git locally only (rev-parse, status, log, worktree add): the one `git` binary does all
# of it, and needs only libpcre2 and zlib, which the base has. The package's perl, curl, remote
# helpers and translations would add 190 MB.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends git >/dev/null
COPY requirements/action.txt /opt/mlci/requirements.txt
RUN python3 -m venv /opt/mlci/venv \
 && /opt/mlci/venv/bin/pip install --quiet --no-deps -r /opt/mlci/requirements.txt
COPY pyproject.toml README.md /opt/mlci/src/
COPY mlci_action /opt/mlci/src/mlci_action
RUN /opt/mlci/venv/bin/pip install --quiet --no-deps /opt/mlci/src \
 && /opt/mlci/venv/bin/pip uninstall --quiet --yes setuptools pip 2>/dev/null

FROM python:3.12-slim
COPY --from=build /usr/bin/git /usr/bin/git
RUN git --version >/dev/null
COPY --from=build /opt/mlci/venv /opt/mlci/venv
# the CA bundle with the extra CAs: mlci builds environment images and talks to registries
# from here, through the same proxy
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY entrypoint.py /opt/mlci/entrypoint.py
COPY requirements/monitor.txt /opt/mlci/requirements-monitor.txt
COPY requirements/ray.txt /opt/mlci/requirements-ray.txt
ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/mlci/venv/bin:$PATH
ENTRYPOINT ["/opt/mlci/venv/bin/python", "/opt/mlci/entrypoint.py"]
