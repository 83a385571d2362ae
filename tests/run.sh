#!/usr/bin/env bash
# The one command that runs the whole suite on a fresh machine:
#
#   ./tests/run.sh [pytest arguments]      e.g. ./tests/run.sh tests/unit -x
#
# installs the package with its test extras and Debian's Chromium (for the report's browser test),
# starts the dev services (RabbitMQ, OpenSearch), runs the cheap static checks (ruff, import-linter,
# mypy) and then pytest. Any failure stops the run with a non-zero exit. Set MAAS_REQUIRE_SERVICES=1
# (CI does) to make missing services fail the integration tests instead of skipping them.
set -euo pipefail

cd "$(dirname "$0")/.."
readonly STAMP_DIR=${MAAS_CACHE_DIR:-$HOME/.cache/maas}

step() { printf '\n== %s\n' "$*" >&2; }

# quiet COMMAND...: show COMMAND's output only when it fails (import-linter prints a banner).
quiet() {
    local output
    output=$("$@" 2>&1) || { printf '%s\n' "$output" >&2; return 1; }
}

# Reinstalling costs seconds on every run, so it is skipped while pyproject.toml is unchanged and
# `import maas` still resolves to this work tree.
install() {
    local key stamp
    key=$(cat pyproject.toml <(pwd) <(command -v python3) | sha256sum | cut -c1-16)
    stamp="$STAMP_DIR/pip-install-$key"
    # From another directory: here, `python3 -c` would find ./maas whatever is installed.
    if [[ -f $stamp ]] && [[ $(cd / && python3 -c 'import maas; print(maas.__file__)' 2>/dev/null) == "$PWD/maas/__init__.py" ]]; then
        return
    fi
    step "pip install -e '.[test]'"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q -e '.[test]'
    mkdir -p "$STAMP_DIR"
    touch "$stamp"
}

# The HTML report's browser test (tests/e2e/test_report_browser.py) drives Debian's Chromium; a fresh
# machine has none. Installed once, quietly; a no-op when both commands are there.
browser() {
    command -v chromium >/dev/null && command -v chromedriver >/dev/null && return
    local sudo=""
    [[ $EUID -eq 0 ]] || sudo=sudo
    step "apt-get install chromium chromium-driver"
    quiet $sudo apt-get update -q
    quiet $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver
}

install
browser
step "dev services"
bash deploy/dev/services.sh start
step "ruff check, ruff format --check"
ruff check .
ruff format --check .
step "lint-imports"
quiet lint-imports
step "mypy"
mypy
step "pytest $*"
python3 -m pytest "$@"
