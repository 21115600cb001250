# shellcheck shell=bash
# Helpers shared by the scripts under ops/ (the servers, the stack, the test checkers' venvs).
# Sourced, never executed: it only defines functions and ASSAY_ROOT / ASSAY_DATA.

# The repository root, found from this file's own location so that every script works from any
# working directory (make, CI, an editor's terminal).
ASSAY_ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
# All state (binaries collected by Maven, configs, data, logs, pid files) lives here, git-ignored.
ASSAY_DATA="${ASSAY_ROOT}/.data"
export ASSAY_ROOT ASSAY_DATA

# die MESSAGE...: print to stderr with the calling script's name and exit 1.
die() {
  printf '%s: error: %s\n' "${LOG_PREFIX:-assay}" "$*" >&2
  exit 1
}

# say MESSAGE...: progress lines on stderr, so that stdout stays clean for callers.
say() {
  printf '%s: %s\n' "${LOG_PREFIX:-assay}" "$*" >&2
}

# now_us: wall clock in microseconds (bash 5's EPOCHREALTIME, without the locale's decimal mark).
now_us() {
  local t="${EPOCHREALTIME}"
  printf '%s' "${t//[!0-9]/}"
}

# since START_US: seconds elapsed since START_US, with one decimal, for the timing lines we report.
since() {
  local d=$(( ($(now_us) - $1) / 100000 ))
  printf '%d.%d' $((d / 10)) $((d % 10))
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT. Uses bash's
# /dev/tcp, so it costs no process start; the subshell closes the descriptor again.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_alive PIDFILE MARKER: true when PIDFILE names a live process whose command line contains
# MARKER (the absolute path of our config file). The marker check protects against a stale pid
# file whose number the kernel has since given to an unrelated process (e.g. after a reboot).
pid_alive() {
  local pidfile="$1" marker="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# stop_pid NAME PIDFILE MARKER TIMEOUT_S: SIGTERM the process, wait up to TIMEOUT_S for it to
# exit (both servers flush and close their logs cleanly on SIGTERM), then SIGKILL it.
stop_pid() {
  local name="$1" pidfile="$2" marker="$3" timeout="$4" pid deadline
  if ! pid_alive "$pidfile" "$marker"; then
    rm -f -- "$pidfile"
    say "$name is not running"
    return 0
  fi
  pid="$(<"$pidfile")"
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( SECONDS + timeout ))
  while [[ -d "/proc/$pid" ]] && (( SECONDS < deadline )); do
    # A zombie (our own child in the same shell) counts as gone.
    [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
    sleep 0.2
  done
  if [[ -d "/proc/$pid" ]] && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; then
    say "$name did not stop within ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while [[ -d "/proc/$pid" ]] && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; do
      sleep 0.1
    done
  fi
  rm -f -- "$pidfile"
  say "$name stopped"
}

# launch PIDFILE OUTFILE CMD...: start CMD detached from this shell and record its pid.
# setsid puts it in its own session, so Ctrl-C in the terminal that ran `make test` and the end
# of that shell do not take the server down with it; nohup ignores SIGHUP for the same reason.
# Every descriptor above 2 is closed first: our start lock (else the server would hold it for
# its lifetime) and whatever the caller passed down (make's jobserver, a CI runner's pipes),
# which a long-lived server must not keep open: a reader waiting for EOF would wait forever.
# The subshell execs setsid, which execs nohup, which execs the server: as a background job of a
# non-interactive shell is not a process-group leader, setsid does not fork, and $! is the
# server's own pid. launch returns once that exec has happened.
launch() {
  local pidfile="$1" outfile="$2"
  shift 2
  (
    for fd in /proc/self/fd/*; do
      fd="${fd##*/}"
      if (( fd > 2 )); then eval "exec ${fd}>&-"; fi
    done
    exec setsid nohup "$@" </dev/null >>"$outfile" 2>&1
  ) &
  local pid="$!" self i
  printf '%s\n' "$pid" >"$pidfile"
  # Until the subshell has exec'd, its command line is this script's, without the server's
  # config path that pid_alive looks for: a readiness check in that moment (a loaded machine,
  # many descriptors to close) would take a starting server for one that died. Return once the
  # command is in place, or the subshell is gone.
  self="$(tr '\0' ' ' <"/proc/$$/cmdline")"
  for (( i = 0; i < 100; i++ )); do
    [[ -r "/proc/$pid/cmdline" ]] || break
    [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == "$self" ]] || break
    sleep 0.05
  done
}

# with_lock LOCKFILE CMD...: run CMD holding an exclusive lock, so two concurrent `start`s (two
# terminals, make test racing make run) cannot both launch a server on the same data directory.
with_lock() {
  local lockfile="$1"
  shift
  mkdir -p -- "$(dirname -- "$lockfile")"
  exec 9>"$lockfile"
  if command -v flock >/dev/null 2>&1; then
    flock -w 600 9 || die "timed out waiting for lock $lockfile"
  fi
  "$@"
}

# file_size FILE: its size in bytes, 0 when missing. Taken before a start, it lets a failure
# message show only what that start wrote, not the previous run's shutdown lines.
file_size() {
  stat -c %s -- "$1" 2>/dev/null || echo 0
}

# show_log_tail FILE [N] [FROM_BYTE]: the last N lines of a log written after byte FROM_BYTE,
# indented, on stderr (for failure messages).
show_log_tail() {
  local file="$1" n="${2:-40}" from="${3:-0}"
  [[ -f "$file" ]] || return 0
  (( $(file_size "$file") >= from )) || from=0 # rotated since: show its end anyway
  if (( $(file_size "$file") > from )); then
    printf -- '--- last lines of %s ---\n' "$file" >&2
    tail -c +"$((from + 1))" -- "$file" | grep -v '^[[:space:]]*$' | tail -n "$n" | sed 's/^/  /' >&2
    printf -- '---\n' >&2
  fi
}

# server_status NAME PIDFILE MARKER PORT [DETAIL]: one line on stdout saying whether the server
# this checkout starts (PIDFILE, MARKER as for pid_alive) is up, for the scripts' `status`
# commands. Exit 0 only when its process is alive AND its port is open: a live pid alone may
# still be loading, and an open port alone may belong to a server someone else runs, which
# `stop` would not touch. DETAIL (e.g. a second port) is appended to the running line.
server_status() {
  local name="$1" pidfile="$2" marker="$3" port="$4" detail="${5:-}"
  if pid_alive "$pidfile" "$marker" && port_open "$port"; then
    echo "${name}: running (pid $(<"$pidfile")) on 127.0.0.1:${port}${detail:+ ${detail}}"
    return 0
  fi
  if pid_alive "$pidfile" "$marker"; then
    echo "${name}: starting (pid $(<"$pidfile")), port ${port} not open yet"
  elif port_open "$port"; then
    echo "${name}: not started by this checkout, but something listens on 127.0.0.1:${port}"
  else
    echo "${name}: not running"
  fi
  return 1
}

# server_log LOGFILE [-f | N]: the last N (default 200) lines of a server's log, or with -f the
# last 100 and then follow it (tail -F, so a rotation does not end the follow).
server_log() {
  local logfile="$1"
  [[ -f "$logfile" ]] || die "no log yet at ${logfile}"
  if [[ "${2:-}" == "-f" ]]; then
    exec tail -n 100 -F -- "$logfile"
  fi
  tail -n "${2:-200}" -- "$logfile"
}

# mark_start OUTFILE: append a dated separator to a server's stdout file before a start, so
# output of successive runs (which all append to it) can be told apart.
mark_start() {
  printf '=== start %s ===\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" >>"$1"
}

# usage SCRIPT: print SCRIPT's header comment (from line 2 to `set -euo`) as its help on stderr
# and exit 2, so the usage text and the documentation at the top of each script are one text.
usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$1" >&2
  exit 2
}

# first_executable PATH...: print the first PATH that is an executable file (empty ones are
# skipped, so "${ASSAY_X:-}" can come first); fail when none is.
first_executable() {
  local p
  for p in "$@"; do
    if [[ -n "$p" && -x "$p" ]]; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  return 1
}

# apt_install WHAT PACKAGE HINT: install Debian's PACKAGE because WHAT (a test tool) is missing,
# progress and timing on stderr. Dies, saying HINT (how to provide WHAT otherwise), without
# apt-get, and without root. The package index is refreshed only when the install fails: a
# stale index makes it fail with 404s, and a fresh one costs time on every machine.
apt_install() {
  local what="$1" package="$2" hint="$3" start
  command -v apt-get >/dev/null || die "${what} is missing and apt-get is not available: ${hint}"
  [[ "$(id -u)" == 0 ]] || die "${what} is missing; installing it needs root (apt-get install ${package})"
  start="$(now_us)"
  say "installing Debian's ${package} package for ${what} (once per machine)..."
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${package}" >&2; then
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${package}" >&2
  fi
  say "${package} installed in $(since "$start")s"
}

# need_java: die unless a JDK is on PATH (the Kafka broker and the Avro checker run on it).
need_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found on PATH: install a JDK 17+ (Debian: apt-get install -y openjdk-17-jdk-headless)"
}

# maven_libs POM LIBS WHAT: collect POM's dependencies into the directory LIBS with Maven, but
# only when LIBS is missing or was collected from a different pom (LIBS/.pom.sha256 holds the
# pom's hash, inside LIBS so that deleting it also forgets the stamp): a warm start then costs
# no Maven run at all. Jars go to a fresh directory that replaces LIBS only once complete, so
# an interrupted download never leaves a half classpath, and a version bump never leaves old
# and new jars side by side. WHAT names the jars in messages. Run it under with_lock: two
# setups at once must not both replace LIBS.
maven_libs() {
  local pom="$1" libs="$2" what="$3" want have="" stamp="$2/.pom.sha256" dir
  dir="$(dirname -- "${libs}")"
  want="$(sha256sum "${pom}" | cut -d' ' -f1)"
  [[ -f "${stamp}" ]] && have="$(<"${stamp}")"
  if [[ -d "${libs}" && "${have}" == "${want}" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found on PATH: install Maven 3.8+ (Debian: apt-get install -y maven)"
  local t0 tmp mvnlog
  t0="$(now_us)"
  tmp="${libs}.tmp.$$"
  mvnlog="${dir}/mvn.log"
  rm -rf -- "${tmp}"
  say "collecting ${what} jars with Maven (${pom#"${ASSAY_ROOT}"/})"
  # Output goes to a log shown only on failure: -q still prints a few ANSI resets with Debian's
  # Maven 3.8, and a successful run has nothing to say.
  if ! mvn -q -B -f "${pom}" dependency:copy-dependencies \
    -DoutputDirectory="${tmp}" >"${mvnlog}" 2>&1; then
    show_log_tail "${mvnlog}" 40
    rm -rf -- "${tmp}"
    die "Maven could not collect the ${what} jars (full output: ${mvnlog})"
  fi
  printf '%s\n' "${want}" >"${tmp}/.pom.sha256"
  rm -rf -- "${libs}"
  mv -- "${tmp}" "${libs}"
  say "collected $(find "${libs}" -name '*.jar' | wc -l) jars in $(since "${t0}")s"
}

# python_venv NAME PACKAGE VERSION CHECK: make .data/NAME-venv with PACKAGE==VERSION from PyPI
# (unless CHECK, a python expression, is true there already) and print its python on stdout.
# The test-only checkers (chdb, openlineage-python) live in venvs of their own, so their pins
# never meet.
python_venv() {
  local name="$1" package="$2" version="$3" check="$4" venv="${ASSAY_DATA}/$1-venv"
  if [[ -x "${venv}/bin/python" ]] && "${venv}/bin/python" -c "import sys; sys.exit(not (${check}))" 2>/dev/null; then
    echo "${venv}/bin/python"
    return 0
  fi
  command -v python3 >/dev/null || die "${name} setup: python3 is required"
  python3 -m venv "${venv}" >&2 || die "${name} setup: python3 -m venv failed (Debian: apt-get install python3-venv)"
  "${venv}/bin/pip" install -q --disable-pip-version-check "${package}==${version}" >&2 || die "${name} setup: pip install ${package}==${version} failed"
  echo "${venv}/bin/python"
}
