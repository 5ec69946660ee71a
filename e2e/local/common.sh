# shellcheck shell=bash
# The local e2e's vocabulary: telling the story, bounded polling checks, and
# the processes it starts (each one stopped again on exit, also on failure).
# Sourced by e2e/local.sh; expects `set -euo pipefail` and these variables:
# PY (the venv's python), HERE (e2e/local/), WORK (the run's directory).

readonly E2E_EXIT_FAILED=1
# shellcheck disable=SC2034 # used by e2e/local.sh
readonly E2E_EXIT_PREREQ=3

WAIT_TIMEOUT=${WAIT_TIMEOUT:-30}   # seconds for any one expectation to come true
POLL_INTERVAL=${POLL_INTERVAL:-0.2}
STOP_TIMEOUT=${STOP_TIMEOUT:-15}   # seconds a process gets to exit after SIGTERM
CHECKS=0

# -- the story ------------------------------------------------------------------
step() { printf '\n==> %s\n' "$*"; }
ok() {
  CHECKS=$((CHECKS + 1))
  printf '  ✓ %s\n' "$*"
}
note() { printf '    %s\n' "$*"; }

# fail CHECK [DETAIL...] — shows the failed check and exits 1; the exit trap
# names it again as the run's last line.
FAILED_CHECK=""
fail() {
  # shellcheck disable=SC2034 # read by e2e/local.sh's exit trap
  FAILED_CHECK=$1
  printf '  ✗ %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do
    printf '%s\n' "$line" | sed 's/^/      /' >&2
  done
  exit "$E2E_EXIT_FAILED"
}

# lines LINE... — one argument per line (the shape of an expectation).
lines() { printf '%s\n' "$@"; }

# indent TEXT — every line of TEXT indented by two spaces.
indent() { printf '  %s' "${1//$'\n'/$'\n'  }"; }

# -- bounded checks -------------------------------------------------------------
# expect CHECK EXPECTED COMMAND... — runs COMMAND until its output is EXPECTED,
# for at most WAIT_TIMEOUT seconds; then fails showing expected and last output.
expect() {
  local what=$1 want=$2 got="" deadline
  shift 2
  deadline=$((SECONDS + WAIT_TIMEOUT))
  while :; do
    if got=$("$@" 2>&1) && [[ $got == "$want" ]]; then
      ok "$what"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      fail "$what (not true after ${WAIT_TIMEOUT}s)" "expected:" "$(indent "$want")" \
        "last seen:" "$(indent "$got")"
    fi
    sleep "$POLL_INTERVAL"
  done
}

# expect_now CHECK EXPECTED ACTUAL — a comparison of values already in hand.
expect_now() {
  if [[ $3 == "$2" ]]; then
    ok "$1"
  else
    fail "$1" "expected:" "$(indent "$2")" "actual:" "$(indent "$3")"
  fi
}

# wait_for WHAT COMMAND... — until COMMAND succeeds (silently), for at most WAIT_TIMEOUT seconds.
wait_for() {
  local what=$1 deadline
  shift
  deadline=$((SECONDS + WAIT_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "timed out after ${WAIT_TIMEOUT}s waiting for $what"
    fi
    sleep "$POLL_INTERVAL"
  done
}

# wait_for_process NAME WHAT COMMAND... — wait_for, but fails at once when the
# process NAME exits meanwhile (a crash at startup is not worth a timeout).
wait_for_process() {
  local name=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + WAIT_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      fail "$name exited while waiting for $what" "$(tail -n 20 "$WORK/logs/$name.log" 2>/dev/null)"
    fi
    if ((SECONDS >= deadline)); then
      fail "timed out after ${WAIT_TIMEOUT}s waiting for $what"
    fi
    sleep "$POLL_INTERVAL"
  done
}

# run CHECK COMMAND... — a command that must succeed now; its output is shown indented.
run() {
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    [[ -z $out ]] || note "${out//$'\n'/$'\n'    }"
    ok "$what"
  else
    fail "$what" "command: $*" "$out"
  fi
}

# summarize KIND — canonical lines for JSON (or YAML) on stdin; see summarize.py.
summarize() { "$PY" "$HERE/summarize.py" "$1"; }

# -- processes --------------------------------------------------------------------
declare -A PID_OF=()
STARTED=()  # names, in start order

# start NAME COMMAND... — in the background, output to $WORK/logs/NAME.log.
start() {
  local name=$1
  shift
  mkdir -p "$WORK/logs"
  "$@" >>"$WORK/logs/$name.log" 2>&1 &
  PID_OF[$name]=$!
  STARTED+=("$name")
  note "started $name (pid ${PID_OF[$name]}; log $WORK/logs/$name.log)"
}

running() { [[ -n ${PID_OF[$1]:-} ]] && kill -0 "${PID_OF[$1]}" 2>/dev/null; }

# stop NAME [SIGNAL] — SIGNAL (default TERM), then SIGKILL after STOP_TIMEOUT (or
# STOP_TIMEOUT_OF[NAME]) seconds; sets STOP_STATUS to the exit status (or "killed" when SIGKILL was needed).
STOP_STATUS=""
declare -A STOP_TIMEOUT_OF=()  # per process, where stopping takes longer (a whole fleet)
stop() {
  local name=$1 signal=${2:-TERM} pid deadline
  pid=${PID_OF[$name]:-}
  STOP_STATUS=""
  [[ -n $pid ]] || return 0
  {  # stderr off: bash would report a job ended by a signal ("Killed") here
    kill "-$signal" "$pid" || true
    deadline=$((SECONDS + ${STOP_TIMEOUT_OF[$name]:-$STOP_TIMEOUT}))
    while kill -0 "$pid" && ((SECONDS < deadline)); do
      sleep 0.1
    done
    if kill -0 "$pid"; then
      kill -KILL "$pid" || true
      wait "$pid" || true
      STOP_STATUS=killed
    else
      STOP_STATUS=0
      wait "$pid" || STOP_STATUS=$?
    fi
  } 2>/dev/null
  unset "PID_OF[$name]"
}

# stop_all — every process still running, newest first (the exit trap calls it).
stop_all() {
  local i
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    if [[ -n ${PID_OF[${STARTED[i]}]:-} ]]; then
      stop "${STARTED[i]}"
      note "stopped ${STARTED[i]} (${STOP_STATUS})"
    fi
  done
}

# show_logs — the tail of every process log, for a failed run (etcd's is rarely the story).
show_logs() {
  local log n
  for log in "$WORK"/logs/*.log; do
    [[ -f $log ]] || continue
    n=30
    [[ $log == */etcd.log ]] && n=8
    printf '\n---- last %s lines of %s\n' "$n" "$log" >&2
    tail -n "$n" "$log" >&2
  done
}

# free_ports N — N distinct free TCP ports on 127.0.0.1, one per line.
free_ports() {
  "$PY" - "$1" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# free_port_pair — a free TCP port P on 127.0.0.1 whose neighbour P+1 is free too.
free_port_pair() {
  "$PY" - <<'EOF'
import socket
for _ in range(50):
    a = socket.socket()
    a.bind(("127.0.0.1", 0))
    port = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", port + 1))
    except OSError:
        continue
    finally:
        a.close()
        b.close()
    print(port)
    break
else:
    raise SystemExit("no free pair of neighbouring ports found")
EOF
}

# http_ok URL — whether URL answers 2xx within 2 seconds.
http_ok() {
  "$PY" - "$1" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if 200 <= r.status < 300 else 1)
except OSError:
    sys.exit(1)
EOF
}
