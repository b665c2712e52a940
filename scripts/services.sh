#!/usr/bin/env bash
# Install and start what the Docker tests (tests/docker/) need, on this machine:
#
#   * a Docker engine (Debian's docker.io), started by hand because these
#     machines have no systemd: `dockerd --bridge=none --iptables=false
#     --ip-masq=false`. No bridge, no NAT: builds and containers use host
#     networking (`--network host`, network_mode="host"), so every byte stays
#     on 127.0.0.1 or goes where the host itself may go.
#   * the base image mlci-base:bookworm, made with debootstrap from the Debian
#     mirror apt uses here (no public registry can be pulled from), then
#     `docker import`ed. Built once; skipped while the tag exists.
#   * a real CNCF distribution registry (Debian's docker-registry) on
#     127.0.0.1:5000 with htpasswd (bcrypt) auth: user "mlci", password
#     $MLCI_TEST_REGISTRY_PASSWORD (default "mlci-test-password"). The daemon
#     needs no insecure-registries setting: 127.0.0.0/8 is insecure by default.
#
# Safe to run again: a daemon that answers, a registry that answers with our
# pidfile and an image that exists are left alone. Exits non-zero with a
# message on the first failure. Needs root (apt-get, dockerd).
#
# pip inside a container or `docker build --network host` on these machines:
#   * pypi.org is reached through the host's resolver (host networking copies
#     /etc/resolv.conf and /etc/hosts in) and a TLS-intercepting proxy whose CA
#     is only in the HOST bundle /etc/ssl/certs/ca-certificates.crt. The base
#     image has Debian's stock bundle, so pip fails with CERTIFICATE_VERIFY_FAILED
#     unless the host bundle is copied in and pointed at, e.g.
#         COPY ca-certificates.crt /etc/ssl/certs/mlci-host-ca.crt
#         ENV PIP_CERT=/etc/ssl/certs/mlci-host-ca.crt
#     (or overwrite /etc/ssl/certs/ca-certificates.crt). No proxy variable and
#     no index URL are needed: plain https://pypi.org/simple works.
#   * The host's pip config (/etc/pip.conf: cert; /etc/xdg/pip/pip.conf:
#     find-links /opt/wheels, extra-index-url file:///opt/pypi..., a torch
#     constraint) points at host-only directories: inside a container those do
#     not exist, so everything comes from PyPI (torch is large: ~200 MB for cpu).
#
# Layout (all overridable by the variables below):
#   dockerd:   log /var/log/mlci-dockerd.log, pidfile /run/mlci-dockerd.pid
#   registry:  config /var/lib/mlci-registry/config.yml, data .../data,
#              htpasswd .../htpasswd, log /var/log/mlci-registry.log,
#              pidfile /run/mlci-registry.pid
set -Eeuo pipefail

BASE_IMAGE="${MLCI_BASE_IMAGE:-mlci-base:bookworm}"
DOCKERD_LOG="${MLCI_DOCKERD_LOG:-/var/log/mlci-dockerd.log}"
DOCKERD_PIDFILE="${MLCI_DOCKERD_PIDFILE:-/run/mlci-dockerd.pid}"
CONTAINERD_PIDFILE=/var/run/docker/containerd/containerd.pid # the one dockerd starts
REGISTRY_ADDR="127.0.0.1:5000"
REGISTRY_USER="mlci"
REGISTRY_PASSWORD="${MLCI_TEST_REGISTRY_PASSWORD:-mlci-test-password}"
REGISTRY_DIR="${MLCI_REGISTRY_DIR:-/var/lib/mlci-registry}"
REGISTRY_CONFIG="$REGISTRY_DIR/config.yml"
REGISTRY_HTPASSWD="$REGISTRY_DIR/htpasswd"
REGISTRY_LOG="${MLCI_REGISTRY_LOG:-/var/log/mlci-registry.log}"
REGISTRY_PIDFILE="${MLCI_REGISTRY_PIDFILE:-/run/mlci-registry.pid}"
WAIT_SECONDS="${MLCI_SERVICES_WAIT:-60}"

say() { printf 'services: %s\n' "$*"; }
die() {
    printf 'services: ERROR: %s\n' "$*" >&2
    exit 1
}
trap 'die "line $LINENO: \"$BASH_COMMAND\" failed"' ERR

# The pid in pidfile $1 if that process is alive and its name is $2; empty
# otherwise. Zombies count as dead: a killed daemon whose parent does not reap
# it (PID 1 on these machines does not) still answers `kill -0`.
live_pid() {
    local pid state
    [[ -s "$1" ]] || return 0
    pid="$(<"$1")"
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/stat" ]] || return 0
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    if [[ "$state" != Z && "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == "$2" ]]; then
        echo "$pid"
    fi
}

# The HTTP status of GET url, "000" when nothing answers.
http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true
}

# --- packages ---------------------------------------------------------------

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v htpasswd >/dev/null || missing+=(apache2-utils)
    [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
    command -v curl >/dev/null || missing+=(curl)
    if ((${#missing[@]} == 0)); then
        say "packages: already installed (docker.io debootstrap apache2-utils docker-registry curl)"
        return
    fi
    say "packages: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
}

# --- dockerd ----------------------------------------------------------------

start_dockerd() {
    local pid
    if docker info >/dev/null 2>&1; then
        pid="$(live_pid "$DOCKERD_PIDFILE" dockerd)"
        say "dockerd: already answering (pid ${pid:-unknown, not started by this script}), left alone"
        return
    fi
    pid="$(live_pid "$DOCKERD_PIDFILE" dockerd)"
    if [[ -z "$pid" ]]; then
        say "dockerd: starting (log $DOCKERD_LOG)"
        mkdir -p "$(dirname "$DOCKERD_LOG")" "$(dirname "$DOCKERD_PIDFILE")"
        # Stale pidfiles from a killed daemon: dockerd refuses to start while its
        # own names a zombie, and waits forever for a "running" containerd.
        rm -f "$DOCKERD_PIDFILE"
        if [[ -z "$(live_pid "$CONTAINERD_PIDFILE" containerd)" ]]; then
            rm -f "$CONTAINERD_PIDFILE"
        fi
        setsid nohup dockerd \
            --bridge=none --iptables=false --ip-masq=false \
            --pidfile="$DOCKERD_PIDFILE" \
            >>"$DOCKERD_LOG" 2>&1 </dev/null &
    else
        say "dockerd: pid $pid is running but not answering yet, waiting"
    fi
    for _ in $(seq "$WAIT_SECONDS"); do
        if docker info >/dev/null 2>&1; then
            say "dockerd: answering (pid $(live_pid "$DOCKERD_PIDFILE" dockerd))"
            return
        fi
        sleep 1
    done
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    die "dockerd did not answer 'docker info' within ${WAIT_SECONDS}s; see $DOCKERD_LOG"
}

check_insecure_loopback() {
    # Pushing over plain http to 127.0.0.1 works only because the daemon
    # treats 127.0.0.0/8 as insecure by default; say so if that ever changes.
    local cidrs
    cidrs="$(docker info --format '{{json .RegistryConfig.InsecureRegistryCIDRs}}')"
    [[ "$cidrs" == *'"127.0.0.0/8"'* ]] ||
        die "the daemon does not treat 127.0.0.0/8 as an insecure registry; pushes to $REGISTRY_ADDR would need https"
    say "dockerd: 127.0.0.0/8 is an insecure registry by default (no daemon setting needed)"
}

# --- base image -------------------------------------------------------------

debian_mirror() {
    if [[ -n "${MLCI_DEBIAN_MIRROR:-}" ]]; then
        echo "$MLCI_DEBIAN_MIRROR"
        return
    fi
    # deb822 sources first (Debian 12's default), then the one-line format.
    local url
    url="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources |
        awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)"
    if [[ -z "$url" ]]; then
        url="$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
            awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)"
    fi
    echo "${url:-http://deb.debian.org/debian}"
}

build_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "image: $BASE_IMAGE exists ($(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")), skipped"
        return
    fi
    local mirror rootfs
    mirror="$(debian_mirror)"
    rootfs="$(mktemp -d /var/tmp/mlci-rootfs.XXXXXX)"
    # shellcheck disable=SC2064  # expand now: the path is fixed
    trap "rm -rf '$rootfs'" EXIT
    say "image: debootstrap bookworm from $mirror into $rootfs (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
        tail -n 20 "$rootfs.log" >&2
        die "debootstrap failed; full log in $rootfs.log"
    }
    rm -f "$rootfs.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    say "image: docker import -> $BASE_IMAGE"
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        - "$BASE_IMAGE" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
    docker run --rm --network host "$BASE_IMAGE" python3 -c 'import ssl, venv' ||
        die "the new image $BASE_IMAGE cannot run python3"
    say "image: $BASE_IMAGE built ($(docker image inspect -f '{{.Id}}' "$BASE_IMAGE"))"
}

# --- registry ---------------------------------------------------------------

# Sets REGISTRY_CHANGED=1 when the config or the htpasswd file was (re)written.
write_registry_config() {
    REGISTRY_CHANGED=0
    mkdir -p "$REGISTRY_DIR/data"
    if [[ ! -s "$REGISTRY_DIR/http-secret" ]]; then
        head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$REGISTRY_DIR/http-secret"
    fi
    local config
    config="$(
        cat <<EOF
# Written by scripts/services.sh; rewritten on every run.
version: 0.1
log:
  level: info
  fields:
    service: mlci-registry
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
  secret: $(<"$REGISTRY_DIR/http-secret")
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: mlci-test-registry
    path: $REGISTRY_HTPASSWD
EOF
    )"
    if [[ ! -f "$REGISTRY_CONFIG" ]] || [[ "$(<"$REGISTRY_CONFIG")" != "$config" ]]; then
        printf '%s\n' "$config" >"$REGISTRY_CONFIG"
        say "registry: config written to $REGISTRY_CONFIG"
        REGISTRY_CHANGED=1
    fi
    if ! htpasswd -vb "$REGISTRY_HTPASSWD" "$REGISTRY_USER" "$REGISTRY_PASSWORD" >/dev/null 2>&1; then
        htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASSWORD" >"$REGISTRY_HTPASSWD"
        say "registry: htpasswd written for user $REGISTRY_USER"
        REGISTRY_CHANGED=1
    fi
    chmod 600 "$REGISTRY_HTPASSWD" "$REGISTRY_DIR/http-secret"
}

start_registry() {
    # apt enables Debian's own instance (:5000, /etc/docker/registry); where
    # systemd runs it, stop it so the port is ours. These machines have none.
    if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
        say "registry: stopping and disabling Debian's docker-registry service"
        systemctl disable --now docker-registry
    fi
    local pid
    write_registry_config
    pid="$(live_pid "$REGISTRY_PIDFILE" docker-registry)"
    if [[ -n "$pid" && "$REGISTRY_CHANGED" == 1 ]]; then
        say "registry: config or password changed, restarting pid $pid"
        kill "$pid"
        for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        pid=""
    fi
    if [[ -n "$pid" ]]; then
        say "registry: already running (pid $pid)"
    else
        if [[ "$(http_status "http://$REGISTRY_ADDR/v2/")" != 000 ]]; then
            die "something not started by this script already listens on $REGISTRY_ADDR; stop it first"
        fi
        say "registry: starting on $REGISTRY_ADDR (config $REGISTRY_CONFIG, log $REGISTRY_LOG)"
        mkdir -p "$(dirname "$REGISTRY_LOG")" "$(dirname "$REGISTRY_PIDFILE")"
        setsid nohup /usr/bin/docker-registry serve "$REGISTRY_CONFIG" \
            >>"$REGISTRY_LOG" 2>&1 </dev/null &
        echo $! >"$REGISTRY_PIDFILE"
    fi
    local status
    for _ in $(seq "$WAIT_SECONDS"); do
        status="$(http_status "http://$REGISTRY_ADDR/v2/")"
        if [[ "$status" == 401 ]]; then
            say "registry: answering GET /v2/ with 401, auth on (pid $(live_pid "$REGISTRY_PIDFILE" docker-registry))"
            return
        fi
        [[ -n "$(live_pid "$REGISTRY_PIDFILE" docker-registry)" ]] || break
        sleep 1
    done
    tail -n 20 "$REGISTRY_LOG" >&2 || true
    die "registry on $REGISTRY_ADDR did not answer GET /v2/ with 401 (last status ${status:-none}); see $REGISTRY_LOG"
}

# --- main -------------------------------------------------------------------

if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null; then
        exec sudo --preserve-env=MLCI_TEST_REGISTRY_PASSWORD,MLCI_DEBIAN_MIRROR "$0" "$@"
    fi
    die "needs root (apt-get, dockerd); run as root or install sudo"
fi

install_packages
start_dockerd
check_insecure_loopback
start_registry
build_base_image
# No public registry can be pulled from here: python:3.12-slim (the default base of mlci's
# environment image and the action image's base) is stood in for by the debootstrap image.
if ! docker image inspect python:3.12-slim >/dev/null 2>&1; then
    docker tag "$BASE_IMAGE" python:3.12-slim
    say "tagged $BASE_IMAGE as python:3.12-slim (offline stand-in)"
fi
say "ready: docker $(docker version -f '{{.Server.Version}}') (pid $(live_pid "$DOCKERD_PIDFILE" dockerd)), image $BASE_IMAGE, registry $REGISTRY_ADDR user $REGISTRY_USER (pid $(live_pid "$REGISTRY_PIDFILE" docker-registry))"
