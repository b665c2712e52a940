# The mlci action image: `uses: <owner>/mlci@<sha>` builds it. Dependencies are pinned
# (requirements/action.txt, compiled from pyproject.toml) and installed before mlci's code.
FROM python:3.12-slim
COPY .github/certs/ /usr/local/share/ca-certificates/mlci-extra/
RUN (update-ca-certificates >/dev/null 2>&1 || true) \
 && apt-get update -qq && apt-get install -y -qq --no-install-recommends git ca-certificates >/dev/null \
 && update-ca-certificates >/dev/null 2>&1 \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1
COPY requirements/action.txt /opt/mlci/requirements.txt
RUN python3 -m venv /opt/mlci/venv \
 && /opt/mlci/venv/bin/pip install --quiet --no-cache-dir --no-deps -r /opt/mlci/requirements.txt
COPY pyproject.toml README.md /opt/mlci/src/
COPY mlci_action /opt/mlci/src/mlci_action
RUN /opt/mlci/venv/bin/pip install --quiet --no-cache-dir --no-deps /opt/mlci/src
COPY entrypoint.py /opt/mlci/entrypoint.py
ENTRYPOINT ["/opt/mlci/venv/bin/python", "/opt/mlci/entrypoint.py"]
