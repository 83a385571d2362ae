#!/usr/bin/env bash
# Dev services for MaaS tests and local runs: RabbitMQ and a single-node OpenSearch, both on loopback.
#
#   bash deploy/dev/services.sh start|stop|status|--help
#
# Runs the real programs without Docker (the test machines have none): RabbitMQ from Debian's
# rabbitmq-server package, OpenSearch from the "integ-test" distribution on Maven Central, run as an
# unprivileged system user. `start` installs what is missing, is idempotent and returns once both
# services answer; `status` exits non-zero if one of them is down.
#
# The integ-test distribution ships a single module (transport-netty4), so `start` adds the geo
# module (the `geo_shape` field type that Sentinel footprints use), fetched as its Maven jar. A node
# that already runs without it is restarted once, and only then.
#
# With Docker, use the compose file instead of this script (same ports, same URLs for the tests):
#
#   docker compose -f deploy/compose.dev.yaml up -d --wait     # start, wait for the healthchecks
#   docker compose -f deploy/compose.dev.yaml ps               # status
#   docker compose -f deploy/compose.dev.yaml down             # stop (add -v to drop the data volumes)
#
# Why a script at all: the tests run against real services, never mocks, so one command has to bring
# them up on a fresh Debian machine without systemd or Docker.
set -euo pipefail

readonly CACHE_DIR=${MAAS_CACHE_DIR:-$HOME/.cache/maas}
readonly SERVICES_DIR=${MAAS_SERVICES_DIR:-/var/lib/maas-dev}
readonly TIMEOUT=${MAAS_SERVICES_TIMEOUT:-180}
readonly RABBIT_PORT=${MAAS_RABBITMQ_PORT:-5672}
readonly RABBIT_MGMT_PORT=${MAAS_RABBITMQ_MGMT_PORT:-15672}
readonly OS_VERSION=${MAAS_OPENSEARCH_VERSION:-2.19.6}
readonly OS_PORT=${MAAS_OPENSEARCH_PORT:-9200}
readonly OS_USER=${MAAS_OPENSEARCH_USER:-maas-opensearch}
readonly OS_HEAP=${MAAS_OPENSEARCH_HEAP:-512m}
readonly OS_ARTIFACT="org.opensearch.distribution.integ-test-zip:opensearch:${OS_VERSION}:zip"
readonly OS_ZIP="$CACHE_DIR/opensearch-$OS_VERSION.zip"
readonly OS_GEO_ARTIFACT="org.opensearch.plugin:geo:${OS_VERSION}:jar"
readonly OS_GEO_JAR="$CACHE_DIR/opensearch-geo-$OS_VERSION.jar"
readonly OS_HOME="$SERVICES_DIR/opensearch-$OS_VERSION"
readonly OS_GEO_MODULE="$OS_HOME/modules/geo"
readonly OS_NODE="$SERVICES_DIR/opensearch-$OS_VERSION-node"
readonly OS_PIDFILE="$OS_NODE/opensearch.pid"
readonly OS_URL="http://127.0.0.1:$OS_PORT"
readonly RABBIT_DIR="$SERVICES_DIR/rabbitmq"

usage() {
    cat <<EOF
Usage: bash deploy/dev/services.sh start|stop|status|--help

  start   install what is missing, start RabbitMQ and OpenSearch, wait until both answer (no-op if up)
          OpenSearch gets the geo module (geo_shape fields) from Maven Central; a running node
          that lacks it is restarted once to load it, a node that has it is left alone
  stop    stop both (RabbitMQ with rabbitmqctl shutdown, OpenSearch by its pid file)
  status  one line per service (up/down and version); exit status 1 if any is down

Starting or stopping a service needs root (apt-get, useradd, runuser, rabbitmqctl); status and a
start that finds both services up (OpenSearch with its geo module) do not.

Services (loopback only):
  RabbitMQ    amqp://guest:guest@127.0.0.1:$RABBIT_PORT/   management http://127.0.0.1:$RABBIT_MGMT_PORT/
  OpenSearch  $OS_URL   (version $OS_VERSION, no security plugin; modules
              transport-netty4 and geo)

Environment:
  MAAS_CACHE_DIR           download cache, outside the work tree     [$CACHE_DIR]
  MAAS_SERVICES_DIR        unpacked OpenSearch, its config/data/logs, RabbitMQ config
                                                                     [$SERVICES_DIR]
  MAAS_SERVICES_TIMEOUT    seconds to wait for each service to answer  [$TIMEOUT]
  MAAS_RABBITMQ_PORT       AMQP port                                  [$RABBIT_PORT]
  MAAS_RABBITMQ_MGMT_PORT  management HTTP port                       [$RABBIT_MGMT_PORT]
  MAAS_OPENSEARCH_VERSION  OpenSearch version from Maven Central      [$OS_VERSION]
  MAAS_OPENSEARCH_PORT     OpenSearch HTTP port                       [$OS_PORT]
  MAAS_OPENSEARCH_USER     system user that runs OpenSearch           [$OS_USER]
  MAAS_OPENSEARCH_HEAP     JVM heap (-Xms and -Xmx)                   [$OS_HEAP]
  MAAS_JAVA_HOME           Java 17 for OpenSearch        [autodetected under /usr/lib/jvm]

Tests use the same ports through MAAS_TEST_AMQP_URL and MAAS_TEST_OPENSEARCH_URL.
With Docker: docker compose -f deploy/compose.dev.yaml up -d --wait
EOF
}

log() { printf 'services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() {
    [[ $EUID -eq 0 ]] || die "$1 needs root (run: sudo bash deploy/dev/services.sh ...)"
}

APT_UPDATED=
apt_install() {
    need_root "installing $*"
    log "installing $* with apt-get"
    if [[ -z $APT_UPDATED ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 ||
        die "apt-get could not install $*"
}

# need COMMAND [PACKAGE]: install PACKAGE (default COMMAND) unless COMMAND is on the PATH.
need() { command -v "$1" >/dev/null || apt_install "${2:-$1}"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until DESCRIPTION COMMAND...: retry COMMAND every second until it succeeds or TIMEOUT passes.
wait_until() {
    local what=$1 deadline=$((SECONDS + TIMEOUT))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || die "$what did not answer within ${TIMEOUT}s"
        sleep 1
    done
}

# ---------------------------------------------------------------------------------------- RabbitMQ

rabbit_ctl_ok() { rabbitmqctl -q ping >/dev/null 2>&1; }

rabbit_mgmt_version() {
    curl -fsS --max-time 3 -u guest:guest "http://127.0.0.1:$RABBIT_MGMT_PORT/api/overview" 2>/dev/null |
        sed -n 's/.*"rabbitmq_version":"\([^"]*\)".*/\1/p'
}

rabbit_version() {
    local version
    version=$(rabbit_mgmt_version || true)
    [[ -n $version ]] || version=$(rabbitmq-diagnostics -q server_version 2>/dev/null || true)
    echo "${version:-unknown version}"
}

# Our own config file keeps the AMQP and management listeners on loopback without touching /etc.
rabbit_write_config() {
    mkdir -p "$RABBIT_DIR"
    chmod 755 "$SERVICES_DIR" "$RABBIT_DIR"
    cat >"$RABBIT_DIR/rabbitmq.conf" <<EOF
# Written by deploy/dev/services.sh: loopback only, dev and test use.
listeners.tcp.1 = 127.0.0.1:$RABBIT_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBIT_MGMT_PORT
loopback_users.guest = true
EOF
    chmod 644 "$RABBIT_DIR/rabbitmq.conf"
}

rabbit_launch() {
    need_root "starting rabbitmq"
    rabbit_write_config
    rabbitmq-plugins -q enable --offline rabbitmq_management >/dev/null
    log "rabbitmq: starting"
    RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT="$RABBIT_PORT" rabbitmq-server -detached >/dev/null 2>&1 9>&-
}

rabbit_started() { rabbitmqctl -q --timeout 10 await_startup >/dev/null 2>&1 && port_open "$RABBIT_PORT"; }

# A node started by hand may lack the management plugin: enabling it on the running node is idempotent.
rabbit_ensure_management() {
    port_open "$RABBIT_MGMT_PORT" && return
    rabbit_ctl_ok || { log "rabbitmq: not ours (rabbitmqctl cannot reach it); management not checked"; return; }
    need_root "enabling rabbitmq_management"
    rabbitmq-plugins -q enable rabbitmq_management >/dev/null
    wait_until "rabbitmq management" port_open "$RABBIT_MGMT_PORT"
}

rabbit_start() {
    need rabbitmq-server
    if port_open "$RABBIT_PORT"; then
        log "rabbitmq: already running on 127.0.0.1:$RABBIT_PORT"
    else
        if ! rabbit_ctl_ok; then rabbit_launch; fi
        wait_until "rabbitmq (see /var/log/rabbitmq/)" rabbit_started
    fi
    rabbit_ensure_management
    log "rabbitmq: up ($(rabbit_version))"
}

rabbit_stop() {
    if ! command -v rabbitmqctl >/dev/null || ! rabbit_ctl_ok; then
        port_open "$RABBIT_PORT" && die "something else listens on :$RABBIT_PORT; rabbitmqctl cannot stop it"
        log "rabbitmq: not running"
        return
    fi
    log "rabbitmq: stopping"
    rabbitmqctl -q shutdown >/dev/null
}

rabbit_status() {
    if port_open "$RABBIT_PORT"; then
        printf 'rabbitmq    up    %-14s amqp://127.0.0.1:%s/\n' "$(rabbit_version)" "$RABBIT_PORT"
    else
        printf 'rabbitmq    down  %-14s amqp://127.0.0.1:%s/\n' "-" "$RABBIT_PORT"
        return 1
    fi
}

# -------------------------------------------------------------------------------------- OpenSearch

os_version() {
    curl -fsS --max-time 3 "$OS_URL/" 2>/dev/null | tr -d '\n' |
        sed -n 's/.*"number" *: *"\([^"]*\)".*/\1/p' || true
}

# The node writes its pid file a few seconds into its start, so a node still booting is found by its
# dedicated user and main class instead.
os_pid() {
    local pid
    pid=$(cat "$OS_PIDFILE" 2>/dev/null || true)
    if [[ -n $pid ]] && grep -qs org.opensearch.bootstrap.OpenSearch "/proc/$pid/cmdline"; then
        echo "$pid"
    else
        pgrep -o -u "$OS_USER" -f org.opensearch.bootstrap.OpenSearch 2>/dev/null
    fi
}

java17_home() {
    local dir
    if [[ -n ${MAAS_JAVA_HOME:-} ]]; then echo "$MAAS_JAVA_HOME" && return; fi
    for dir in /usr/lib/jvm/java-17-openjdk-*; do
        [[ -x $dir/bin/java ]] && echo "$dir" && return
    done
    return 1
}

# maven_fetch ARTIFACT FILE: copy ARTIFACT (group:artifact:version:packaging) from Maven Central to
# FILE in the cache unless it is there. The download goes through a temporary directory so that an
# interrupted fetch leaves no partial file.
maven_fetch() {
    local artifact=$1 file=$2 tmp output
    [[ -s $file ]] && return
    need mvn maven
    mkdir -p "$CACHE_DIR"
    tmp=$(mktemp -d "$CACHE_DIR/.fetch.XXXXXX")
    log "opensearch: fetching $artifact from Maven Central"
    if ! output=$(mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$tmp" 2>&1); then
        printf '%s\n' "$output" >&2
        rm -rf "$tmp"
        die "maven could not fetch $artifact"
    fi
    mv "$tmp"/* "$file"
    rmdir "$tmp"
}

# Unpacked outside the cache: the cache usually sits under root's private home, which the
# unprivileged OpenSearch user cannot read.
os_unpack() {
    local tmp
    [[ -x $OS_HOME/bin/opensearch ]] && return
    need unzip
    mkdir -p "$SERVICES_DIR"
    chmod 755 "$SERVICES_DIR"
    tmp=$(mktemp -d "$SERVICES_DIR/.unpack.XXXXXX")
    unzip -q "$OS_ZIP" -d "$tmp"
    chmod -R go+rX,go-w "$tmp/opensearch-$OS_VERSION"
    mv "$tmp/opensearch-$OS_VERSION" "$OS_HOME"
    rmdir "$tmp"
}

# `java.version` is the release the jar was compiled for, which its manifest records.
os_geo_descriptor() {
    local java
    java=$(unzip -p "$OS_GEO_JAR" META-INF/MANIFEST.MF | sed -n 's/^X-Compile-Target-JDK: *\([0-9.]*\).*/\1/p')
    [[ -n $java ]] || die "$OS_GEO_JAR: no X-Compile-Target-JDK in its manifest"
    cat <<EOF
# Written by deploy/dev/services.sh, after the descriptor the full distribution ships for this module.
description=Geospatial features: the geo_shape field type and the geo aggregations
version=$OS_VERSION
name=geo
classname=org.opensearch.geo.GeoModulePlugin
java.version=$java
opensearch.version=$OS_VERSION
custom.foldername=
extended.plugins=
has.native.controller=false
EOF
}

# geo_shape is registered by the geo module, which the integ-test zip leaves out; its libraries
# (opensearch-geo, jts, spatial4j) are in lib/ already, so the module is its jar plus a descriptor.
# It is assembled beside the distribution and moved in whole: a node never sees half a module.
os_install_geo() {
    local tmp
    [[ -s $OS_GEO_MODULE/plugin-descriptor.properties ]] && return
    need unzip
    maven_fetch "$OS_GEO_ARTIFACT" "$OS_GEO_JAR"
    tmp=$(mktemp -d "$SERVICES_DIR/.geo.XXXXXX")
    cp "$OS_GEO_JAR" "$tmp/geo-$OS_VERSION.jar"
    os_geo_descriptor >"$tmp/plugin-descriptor.properties"
    chmod -R go+rX,go-w "$tmp"
    mv "$tmp" "$OS_GEO_MODULE"
    log "opensearch: installed the geo module in $OS_GEO_MODULE"
}

# The node's config, data and logs belong to the service user; jvm.options gets absolute paths
# because its defaults (logs/gc.log, data) are relative to the read-only distribution.
os_prepare_node() {
    id -u "$OS_USER" >/dev/null 2>&1 ||
        useradd --system --user-group --no-create-home --home-dir "$OS_NODE" \
            --shell /usr/sbin/nologin "$OS_USER"
    mkdir -p "$OS_NODE/data" "$OS_NODE/logs"
    if [[ ! -d $OS_NODE/config ]]; then
        cp -r "$OS_HOME/config" "$OS_NODE/config"
        sed -i -E "s#(=|:)logs/#\1$OS_NODE/logs/#g; s#HeapDumpPath=data#HeapDumpPath=$OS_NODE/data#" \
            "$OS_NODE/config/jvm.options"
    fi
    chown -R "$OS_USER:" "$OS_NODE"
}

os_launch() {
    local java_home
    need_root "starting opensearch"
    maven_fetch "$OS_ARTIFACT" "$OS_ZIP"
    os_unpack
    os_install_geo
    os_prepare_node
    if ! java_home=$(java17_home); then
        apt_install openjdk-17-jre-headless
        java_home=$(java17_home) || die "no Java 17 under /usr/lib/jvm; set MAAS_JAVA_HOME"
    fi
    log "opensearch: starting $OS_VERSION as $OS_USER (Java in $java_home)"
    (cd "$OS_HOME" && runuser -u "$OS_USER" -- env JAVA_HOME="$java_home" \
        OPENSEARCH_PATH_CONF="$OS_NODE/config" OPENSEARCH_JAVA_OPTS="-Xms$OS_HEAP -Xmx$OS_HEAP" \
        ./bin/opensearch -d -p "$OS_PIDFILE" \
        -E cluster.name=maas-dev -E discovery.type=single-node \
        -E network.host=127.0.0.1 -E http.port="$OS_PORT" \
        -E path.data="$OS_NODE/data" -E path.logs="$OS_NODE/logs" \
        -E cluster.routing.allocation.disk.threshold_enabled=false \
        >"$OS_NODE/logs/startup.out" 2>&1 9>&-) ||
        die "opensearch did not start; see $OS_NODE/logs/startup.out and $OS_NODE/logs/maas-dev.log"
}

# Fails fast when the process died instead of waiting out the whole timeout.
os_healthy() {
    curl -fsS --max-time 10 "$OS_URL/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1 &&
        return
    os_pid >/dev/null || die "opensearch exited; see $OS_NODE/logs/maas-dev.log"
    return 1
}

# Asks the node rather than the disk, so that a restart interrupted after the install is still
# made up for; a node that cannot answer stops `start` rather than being restarted blindly.
os_has_geo() {
    local modules
    modules=$(curl -fsS --max-time 10 "$OS_URL/_nodes/_local/plugins?filter_path=nodes.*.modules.name") ||
        die "opensearch on $OS_URL did not list its modules"
    [[ $modules == *'"name":"geo"'* ]]
}

# The module on disk serves every boot; the running node is restarted only when it has not loaded
# it (the module was just installed, or an earlier restart was interrupted): modules are read at boot.
os_ensure_geo() {
    if [[ $EUID -eq 0 && -d $OS_HOME/modules ]]; then os_install_geo; fi
    os_has_geo || os_restart_for_geo
}

os_restart_for_geo() {
    os_pid >/dev/null ||
        die "opensearch on $OS_URL lacks the geo module (no geo_shape) and is not run by $OS_USER"
    need_root "installing the opensearch geo module"
    os_install_geo
    log "opensearch: restarting to load the geo module"
    os_stop
    os_launch
    wait_until "opensearch (see $OS_NODE/logs/)" os_healthy
    os_has_geo || die "opensearch restarted without the geo module; see $OS_NODE/logs/maas-dev.log"
}

os_start() {
    need pgrep procps
    if [[ -n $(os_version) ]]; then
        log "opensearch: already running on $OS_URL"
    else
        if ! os_pid >/dev/null; then os_launch; fi
        wait_until "opensearch (see $OS_NODE/logs/)" os_healthy
    fi
    os_ensure_geo
    log "opensearch: up ($(os_version))"
}

os_stop() {
    local pid
    if ! pid=$(os_pid); then
        [[ -n $(os_version) ]] && die "opensearch on :$OS_PORT is not run by $OS_USER; stop it yourself"
        log "opensearch: not running"
        return
    fi
    log "opensearch: stopping (pid $pid)"
    kill -TERM "$pid"
    wait_until "opensearch shutdown" os_gone "$pid"
}

os_gone() { ! kill -0 "$1" 2>/dev/null; }

os_status() {
    local version
    version=$(os_version)
    if [[ -n $version ]]; then
        printf 'opensearch  up    %-14s %s\n' "$version" "$OS_URL"
    else
        printf 'opensearch  down  %-14s %s\n' "-" "$OS_URL"
        return 1
    fi
}

# -------------------------------------------------------------------------------------------- main

# Engineers share the machine: concurrent start/stop calls run one after the other. The daemons
# must not inherit the lock's descriptor (9>&- where they are launched), or it would never be freed.
lock() {
    [[ $EUID -eq 0 ]] || return 0
    mkdir -p "$SERVICES_DIR"
    exec 9>"$SERVICES_DIR/.services.lock"
    flock -w "$TIMEOUT" 9 || die "another services.sh holds $SERVICES_DIR/.services.lock"
}

main() {
    case ${1:-} in
    start)
        lock
        need curl
        rabbit_start
        os_start
        ;;
    stop)
        need_root stop
        lock
        rabbit_stop
        os_stop
        ;;
    status)
        local rc=0
        rabbit_status || rc=1
        os_status || rc=1
        return "$rc"
        ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        return 2
        ;;
    esac
}

# Sourced (the unit tests do), the script only defines its functions.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
