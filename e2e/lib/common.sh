# shellcheck shell=bash
# Logging, prerequisite checks and bounded waiting for the e2e scripts.
# Sourced; expects `set -euo pipefail` in the caller.

# Exit codes: 1 = a check failed, 3 = the machine lacks what the test needs.
readonly E2E_EXIT_FAILED=1
readonly E2E_EXIT_PREREQ=3

log() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

# die MESSAGE [CODE]
die() {
  printf 'FAILED: %s\n' "$1" >&2
  exit "${2:-$E2E_EXIT_FAILED}"
}

# require_tools TOOL... — exits 3 naming every missing tool; also checks that a
# docker client has a running engine behind it.
require_tools() {
  local tool missing=()
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    printf 'missing prerequisites: %s\n' "${missing[*]}" >&2
    printf 'install them and put them on PATH (see e2e/README.md)\n' >&2
    exit "$E2E_EXIT_PREREQ"
  fi
  if [[ " $* " == *" docker "* ]] && ! docker_engine_running; then
    printf 'missing prerequisites: a running Docker engine (docker info failed)\n' >&2
    exit "$E2E_EXIT_PREREQ"
  fi
}

# require_bash MAJOR MINOR — associative arrays and empty "${a[@]}" under set -u.
require_bash() {
  if ((BASH_VERSINFO[0] < $1 || (BASH_VERSINFO[0] == $1 && BASH_VERSINFO[1] < $2))); then
    printf 'missing prerequisites: bash >= %s.%s (this is %s)\n' "$1" "$2" "$BASH_VERSION" >&2
    exit "$E2E_EXIT_PREREQ"
  fi
}

docker_engine_running() {
  if command -v timeout >/dev/null 2>&1; then
    timeout 20 docker info >/dev/null 2>&1
  else
    docker info >/dev/null 2>&1
  fi
}

# wait_until DESCRIPTION TIMEOUT_SECONDS COMMAND... — runs COMMAND every few
# seconds until it succeeds; dies after TIMEOUT_SECONDS.
wait_until() {
  local what=$1 timeout=$2 deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      die "timed out after ${timeout}s waiting for: $what"
    fi
    sleep 3
  done
}
