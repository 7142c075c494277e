#!/usr/bin/env bash
# Benchmarks of the collection's recipes, written to docs/benchmarks.md (tables, machine and
# versions, met/missed targets) and docs/benchmarks.png (chart).
#
#   scripts/bench.sh [--quick] [--only frontends|sessions|trash|ansible] [--keep]
#
#   frontends  wrk (from the container bench-client) against /probe/default/ping and
#              /probe/static/blob-100k.txt for web2py's built-in server (baseline), apache_wsgi,
#              apache_proxy, lighttpd_fcgi, nginx_uwsgi and HAProxy over two nginx_uwsgi nodes:
#              warm-up, BENCH_REPS runs, median, errors, ratio to the built-in server
#   sessions   /probe/default/counter with file, db (PostgreSQL), redis and memcache sessions and
#              1k, 40k, 1M sessions already in the store (seeded in the store's own format by
#              scripts/bench/seed/sessions.py, not over HTTP), then the trash part for Redis
#   trash      sessions2trash over 1M expired Redis sessions (index entries whose hash the TTL
#              removed), each cleaner on a freshly seeded index: "cleaner", the role's
#              web2py-sessions2trash@probe.service (its drop-in runs the batched cleaner), and
#              "web2py", web2py's scripts/sessions2trash.py as the unit ran it before
#              (BENCH_TRASH_CLEANERS picks them; same container and stack as the sessions part)
#   ansible    wall time of playbooks/single.yml and playbooks/site.yml (cluster) from fresh
#              containers and of the idempotent re-run, with profile_tasks' ten slowest tasks;
#              labelled BENCH_LABEL (default: git describe): the report keeps one run per label
#              (e.g. BENCH_LABEL=before, then BENCH_LABEL=after a change)
#   --quick    smoke run: 3 s measurements, 1 s warm-up, sessions 1k/5k/20k, 20k expired for
#              sessions2trash, cluster converge skipped (BENCH_CLUSTER=1 forces it)
#   --only     one part; the report keeps the other parts' last results (.cache/bench/results)
#   --keep     leave the bench- containers running at the end (default: removed)
# Settings (environment): BENCH_CPUS (1: docker --cpus of every server container and of the
# client), BENCH_CONNECTIONS (32; front ends), BENCH_SESSION_CONNECTIONS (4), BENCH_THREADS (2),
# BENCH_DURATION, BENCH_WARMUP, BENCH_REPS (3), BENCH_SIZES, BENCH_TRASH, BENCH_TRASH_CLEANERS
# (cleaner web2py), BENCH_COOKIES (256 sessions the session runs rotate through),
# BENCH_STORES (file db redis memcache), BENCH_RECIPES (standalone apache_wsgi apache_proxy
# lighttpd_fcgi_threaded lighttpd_fcgi_prefork nginx_uwsgi), BENCH_HAPROXY (1; 0 skips it).
# Platform: LAB_PLATFORM (debian13, the default, or debian12); web2py: the 3.3.3 release
# (scripts/lab/release.sh stages it).
# Containers: lab image, Molecule's flags, names bench-*, network bench-net; only one part's set
# runs at a time. Needs ./scripts/lab.sh's prerequisites (Docker, .venv, the lab image); installs
# matplotlib into .cache/bench-venv. Traffic stays on bench-net.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

QUICK=0
ONLY=all
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --only) ONLY=${2:?--only needs frontends, sessions, trash or ansible}; shift ;;
    --only=*) ONLY=${1#--only=} ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$ONLY" in all|frontends|sessions|trash|ansible) ;; *) echo "--only: frontends, sessions, trash or ansible" >&2; exit 2 ;; esac

# The platform of the lab (LAB_PLATFORM, default debian13) and the web2py release it deploys.
LAB_PLATFORM=${LAB_PLATFORM:-debian13}
IMAGE=web2py-deploy/$LAB_PLATFORM-systemd:latest
NET=bench-net
CPUS=${BENCH_CPUS:-1}
CONNS=${BENCH_CONNECTIONS:-32}
# Session runs measure latency: few connections, so queueing in front of the two uWSGI
# processes does not hide the store's own cost.
SESSION_CONNS=${BENCH_SESSION_CONNECTIONS:-4}
THREADS=${BENCH_THREADS:-2}
REPS=${BENCH_REPS:-3}
COOKIES=${BENCH_COOKIES:-256}
if [ "$QUICK" = 1 ]; then
  DURATION=${BENCH_DURATION:-3}; WARMUP=${BENCH_WARMUP:-1}
  SIZES=${BENCH_SIZES:-1000 5000 20000}; TRASH=${BENCH_TRASH:-20000}
else
  DURATION=${BENCH_DURATION:-20}; WARMUP=${BENCH_WARMUP:-5}
  SIZES=${BENCH_SIZES:-1000 40000 1000000}; TRASH=${BENCH_TRASH:-1000000}
fi
TRASH_CLEANERS=${BENCH_TRASH_CLEANERS:-cleaner web2py}
RECIPES="standalone apache_wsgi apache_proxy lighttpd_fcgi_threaded lighttpd_fcgi_prefork nginx_uwsgi"
BENCH_DIR=$top/.cache/bench
RESULTS=$BENCH_DIR/results
LOGS=$BENCH_DIR/logs
WORK=$BENCH_DIR/work
INV=scripts/bench/inventories/bench.yml
BVENV=$top/.cache/bench-venv
PY=$BVENV/bin/python
W2P_ROOT=/srv/web2py/web2py
W2P_PY=/srv/web2py/venv/bin/python

say() { printf '[bench] %s\n' "$*"; }
step() { printf '\n\033[1m[bench] %s\033[0m\n' "$*"; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

bench_containers() { docker ps -a --format '{{.Names}}' | grep '^bench-' || true; }
remove_containers() {
  local names
  names=$(bench_containers)
  # shellcheck disable=SC2086
  [ -z "$names" ] || docker rm -f $names >/dev/null
}
cleanup() {
  local rc=$?
  if [ "$KEEP" = 1 ]; then
    say "--keep: containers left running: $(bench_containers | tr '\n' ' ')"
  else
    remove_containers
    docker network rm "$NET" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}

# ------------------------------------------------------------------ prerequisites
prepare() {
  docker info >/dev/null 2>&1 || die "Docker is not usable (./scripts/lab.sh up installs and starts it)"
  docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE (scripts/lab/build-image.sh builds it)"
  [ -x .venv/bin/ansible-playbook ] || die "no .venv (scripts/setup-venv.sh)"
  [ -e .cache/collections/ansible_collections/web2py/deploy ] || scripts/collection-link.sh
  W2P_RELEASE_ZIP=$(scripts/lab/release.sh) || die "the web2py release is missing (scripts/lab/release.sh)"
  export W2P_RELEASE_ZIP
  if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    say "installing matplotlib into $BVENV"
    python3 -m venv "$BVENV"
    "$BVENV/bin/pip" install -q matplotlib
  fi
  mkdir -p "$RESULTS" "$LOGS" "$WORK"
  if [ -n "$(bench_containers)" ]; then
    die "bench- containers exist already (another bench run?): $(bench_containers | tr '\n' ' ')"
  fi
  docker network inspect "$NET" >/dev/null 2>&1 || docker network create "$NET" >/dev/null
}

# ------------------------------------------------------------------ containers
# A lab container with Molecule's flags (systemd as PID 1; NET_ADMIN: the lab's firewall), on
# bench-net, its own apt cache (seeded with hard links to the .deb files other lab containers
# downloaded already).
start_node() {
  local name=$1 archives=$top/.cache/apt-archives-$LAB_PLATFORM-$1 state
  shift
  mkdir -p "$archives/partial"
  find "$top/.cache" -maxdepth 2 -path "$top/.cache/apt-archives-$LAB_PLATFORM-*/*.deb" ! -path "$top/.cache/apt-archives-$LAB_PLATFORM-bench-*" \
    -exec cp -ln -t "$archives/" {} + 2>/dev/null || true
  docker run -d --name "$name" --hostname "$name" --network "$NET" --cap-add SYS_ADMIN --cap-add NET_ADMIN \
    --security-opt seccomp=unconfined --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock --stop-signal SIGRTMIN+3 \
    -v "$archives:/var/cache/apt/archives:rw" "$@" "$IMAGE" /lib/systemd/systemd >/dev/null
  for _ in $(seq 1 60); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) return 0 ;; esac
    sleep 1
  done
  die "$name: systemd did not come up (state: $state)"
}

# The load generator: wrk (Debian package) in its own container, same CPU limit.
start_client() {
  start_node bench-client --cpus "$CPUS" -v "$top/scripts/bench:/bench:ro" -v "$WORK:/bench-work:ro"
  docker exec bench-client bash -c 'command -v wrk >/dev/null || { timeout 300 apt-get update -qq && timeout 300 apt-get install -y -qq wrk >/dev/null; }' \
    || die "could not install wrk in bench-client"
}

# ansible-playbook with the project's venv and collections; output to $LOGS/<name>.log.
# Sets PLAY_SECONDS (wall time) and returns ansible-playbook's status.
play() {
  local name=$1 log=$LOGS/$1.log start rc=0
  shift
  start=$(date +%s.%N)
  # shellcheck disable=SC1091
  (source .venv/bin/activate && ANSIBLE_COLLECTIONS_PATH="$top/.cache/collections" ANSIBLE_NOCOLOR=1 \
    ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks timeout 3600 ansible-playbook "$@") >"$log" 2>&1 || rc=$?
  PLAY_SECONDS=$(elapsed "$start")
  if [ "$rc" -ne 0 ]; then
    say "ansible-playbook $* failed (status $rc), last lines of $log:"
    grep -E 'fatal:|FAILED|ERROR|msg' "$log" | tail -n 8 | cut -c1-400 >&2 || true
  fi
  return "$rc"
}

# Wait until URL (from bench-client) answers 200, at most 90 s.
wait_http() {
  local url=$1 code
  for _ in $(seq 1 90); do
    code=$(docker exec bench-client curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)
    [ "$code" = 200 ] && return 0
    sleep 1
  done
  say "no 200 from $url (last: $code)"
  return 1
}

# CPU time (ns) a container used so far (cgroup v1 cpuacct; empty when unavailable).
cpu_ns() {
  local id
  id=$(docker inspect -f '{{.Id}}' "$1" 2>/dev/null) || return 0
  cat "/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage" 2>/dev/null || true
}

cpu_sum() { # comma-separated containers
  local total=0 host value
  for host in ${1//,/ }; do value=$(cpu_ns "$host"); total=$((total + ${value:-0})); done
  echo "$total"
}

# measure PART URL COOKIEFILE SERVERS key=value... : warm-up, then REPS wrk runs recorded by
# bench.py, each with the cores bench-client and the SERVERS (comma-separated) used meanwhile.
measure() {
  local part=$1 url=$2 cookies=$3 servers=$4 rep out tag t0 c0 s0 c1 s1 t1
  shift 4
  tag=$(printf '%s' "$*" | tr ' =/' '_-_')
  say "wrk $url ($*): warm-up ${WARMUP}s, $REPS x ${DURATION}s"
  timeout $((WARMUP + 60)) docker exec bench-client wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" --timeout 10s \
    -s /bench/wrk/report.lua "$url" -- "$cookies" "$THREADS" >/dev/null 2>&1 || true
  for rep in $(seq 1 "$REPS"); do
    out=$LOGS/wrk-$part-$tag-$rep.txt
    c0=$(cpu_ns bench-client); s0=$(cpu_sum "$servers"); t0=$(date +%s%N)
    timeout $((DURATION + 60)) docker exec bench-client wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s \
      -s /bench/wrk/report.lua "$url" -- "$cookies" "$THREADS" >"$out" 2>&1 || true
    t1=$(date +%s%N); c1=$(cpu_ns bench-client); s1=$(cpu_sum "$servers")
    "$PY" scripts/bench/bench.py wrk "$RESULTS" "$part" "$out" "$@" rep="$rep" \
      cpu_client="$(awk -v a="${c0:-0}" -v b="${c1:-0}" -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", (b - a) / t }')" \
      cpu_server="$(awk -v a="$s0" -v b="$s1" -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", (b - a) / t }')"
  done
}

record_failure() { # PART key=value... reason
  local part=$1 json
  shift
  json=$("$PY" -c 'import json,sys; d=dict(a.split("=",1) for a in sys.argv[1:]); d["failed"]=True; print(json.dumps(d))' "$@")
  "$PY" scripts/bench/bench.py add "$RESULTS" "$part" "$json"
}

machine_json() {
  "$PY" - "$(docker version --format '{{.Server.Version}}' 2>/dev/null)" \
    "$(.venv/bin/ansible --version 2>/dev/null | head -n1)" <<'EOF'
import json, os, platform, sys
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mem = "?"
for line in open("/proc/meminfo"):
    if line.startswith("MemTotal"):
        mem = "%.1f GiB" % (int(line.split()[1]) / 1048576); break
debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
print(json.dumps({"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "kernel": platform.release(),
                  "debian": debian, "docker": sys.argv[1], "ansible": sys.argv[2]}))
EOF
}

# Package versions in the containers (only the installed ones are listed) and web2py's.
versions_json() {
  local host out all="{}"
  for host in "$@"; do
    out=$(docker exec "$host" bash -c "dpkg-query -W -f='\${Package} \${Version}, ' nginx nginx-light nginx-core uwsgi-core \
      apache2 libapache2-mod-wsgi-py3 lighttpd haproxy redis-server memcached postgresql-15 python3 wrk 2>/dev/null; \
      head -c 60 $W2P_ROOT/VERSION 2>/dev/null; $W2P_PY -m pip list 2>/dev/null | grep -iE '^(pydal|redis|pymemcache|psycopg2-binary|gunicorn) ' | tr -s ' ' | tr '\n' ',' " | tr '\n' ' ' || true)
    all=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d[sys.argv[2]]=sys.argv[3]; print(json.dumps(d))' "$all" "$host" "$out")
  done
  printf '%s' "$all"
}

write_env() { # PART SETTINGS_JSON VERSIONS_JSON
  "$PY" scripts/bench/bench.py env "$RESULTS" "$1" "$("$PY" -c 'import json,sys
print(json.dumps({"quick": sys.argv[1] == "1", "machine": json.loads(sys.argv[2]), "settings": json.loads(sys.argv[3]),
                  "versions": json.loads(sys.argv[4])}))' "$QUICK" "$(machine_json)" "$2" "$3")"
}

# ------------------------------------------------------------------ 1. front ends
# The result key of a recipe: "standalone" (web2py's built-in server) is the baseline "builtin".
case_key() { if [ "$1" = standalone ]; then echo builtin; else echo "$1"; fi; }

frontends() {
  step "Front ends (docker --cpus $CPUS each, wrk -c$CONNS -t$THREADS -d${DURATION}s x $REPS)"
  local recipe key port hosts="bench-client bench-app"
  # A run replaces the results of the cases it measures and keeps the others'.
  for recipe in ${BENCH_RECIPES:-$RECIPES}; do
    "$PY" scripts/bench/bench.py drop "$RESULTS" frontends case="$(case_key "$recipe")"
  done
  [ "${BENCH_HAPROXY:-1}" = 0 ] || "$PY" scripts/bench/bench.py drop "$RESULTS" frontends case=haproxy_2x_nginx_uwsgi
  start_client
  start_node bench-app --cpus "$CPUS"
  for recipe in ${BENCH_RECIPES:-$RECIPES}; do
    key=$(case_key "$recipe") port=80
    [ "$recipe" = standalone ] && port=8000
    say "bench-app: $recipe"
    # lighttpd_fcgi runs twice: uWSGI's threaded pool (one process) and its prefork pool.
    set -- -e "bench_recipe=$recipe"
    case "$recipe" in
      lighttpd_fcgi_threaded|lighttpd_fcgi_prefork) set -- -e bench_recipe=lighttpd_fcgi -e "lighttpd_fcgi_mode=${recipe#lighttpd_fcgi_}" ;;
    esac
    if play "frontends-$recipe" scripts/bench/playbooks/recipe.yml -i "$INV" -e bench_hosts=bench_app "$@" \
        && wait_http "http://bench-app:$port/probe/default/ping"; then
      measure frontends "http://bench-app:$port/probe/default/ping" "" bench-app case="$key" kind=dynamic
      measure frontends "http://bench-app:$port/probe/static/blob-100k.txt" "" bench-app case="$key" kind=static
    else
      record_failure frontends case="$key" reason="converge or first request failed, see .cache/bench/logs/frontends-$recipe.log"
    fi
  done
  if [ "${BENCH_HAPROXY:-1}" = 0 ]; then
    say "BENCH_HAPROXY=0: HAProxy skipped"
  else
    say "HAProxy (bench-lb) over bench-app and bench-app2 (nginx_uwsgi)"
    start_node bench-app2 --cpus "$CPUS"
    start_node bench-lb --cpus "$CPUS"
    hosts="$hosts bench-lb"
    if play frontends-haproxy scripts/bench/playbooks/haproxy.yml -i "$INV" && wait_http http://bench-lb:80/probe/default/ping; then
      sleep 3 # both nodes up in HAProxy's health checks (rise 2, inter 2s)
      measure frontends http://bench-lb:80/probe/default/ping "" bench-lb,bench-app,bench-app2 case=haproxy_2x_nginx_uwsgi kind=dynamic
      measure frontends http://bench-lb:80/probe/static/blob-100k.txt "" bench-lb,bench-app,bench-app2 case=haproxy_2x_nginx_uwsgi kind=static
    else
      record_failure frontends case=haproxy_2x_nginx_uwsgi reason="converge or first request failed, see .cache/bench/logs/frontends-haproxy.log"
    fi
  fi
  # shellcheck disable=SC2086
  write_env frontends "{\"cpus\": \"$CPUS\", \"connections\": $CONNS, \"threads\": $THREADS, \"duration\": $DURATION, \"warmup\": $WARMUP, \"reps\": $REPS}" \
    "$(versions_json $hosts)"
  remove_containers
}

# ------------------------------------------------------------------ 2. session stores
seed() { # STORE COUNT [--expired]
  timeout 3600 docker exec -w "$W2P_ROOT" bench-sess "$W2P_PY" /root/bench-sessions.py "$1" seed "$2" /tmp/cookies.txt \
    --cookies "$COOKIES" "${@:3}"
}

# The first session in STORE, made by web2py over HTTP: the seeder's template. The role reloads
# the uWSGI vassal gracefully: until the new workers have read appconfig.ini, the old ones still
# write sessions to the previous store, so poll until the store under test holds one.
first_session() {
  local store=$1 found=0
  for _ in $(seq 1 120); do
    docker exec bench-sess bash -c 'rm -f /tmp/jar; for i in 1 2; do curl -s -o /dev/null --max-time 10 -b /tmp/jar -c /tmp/jar http://127.0.0.1/probe/default/counter; done' || true
    found=$(docker exec -w "$W2P_ROOT" bench-sess "$W2P_PY" /root/bench-sessions.py "$store" count 2>/dev/null || echo 0)
    [ "${found:-0}" -gt 0 ] && return 0
    sleep 1
  done
  say "no session reached the $store store within 120 s"
  return 1
}

# trash_measure CLEANER: seed TRASH expired Redis sessions (TTL 1 s, listed in the index), then
# time one cleanup of the index and record it (kind=trash). CLEANER is
#   cleaner  the role's unit, as its timer starts it: systemctl start web2py-sessions2trash@probe.service
#            (Nice=10, idle I/O; its drop-in redis.conf runs the batched cleaner)
#   web2py   web2py's scripts/sessions2trash.py as that unit ran it before the cleaner, as web2py
trash_measure() {
  local cleaner=$1 start rc=0 left keys since summary="" log=$LOGS/trash-$1.log
  say "$cleaner: cleanup of $TRASH expired Redis sessions"
  seed redis "$TRASH" --expired || return 1
  sleep 2
  keys=$(docker exec -w "$W2P_ROOT" bench-sess "$W2P_PY" /root/bench-sessions.py redis keys) || return 1
  since=$(docker exec bench-sess date '+%Y-%m-%d %H:%M:%S')
  start=$(date +%s.%N)
  case "$cleaner" in
    cleaner)
      timeout 3600 docker exec bench-sess systemctl start web2py-sessions2trash@probe.service >"$log" 2>&1 || rc=$? ;;
    web2py)
      timeout 3600 docker exec -w "$W2P_ROOT" bench-sess runuser -u web2py -- "$W2P_PY" web2py.py --no_gui --no_banner \
        -S probe -M -R scripts/sessions2trash.py -A -o -x 3600 >"$log" 2>&1 || rc=$? ;;
    *) die "BENCH_TRASH_CLEANERS: cleaner or web2py, not $cleaner" ;;
  esac
  start=$(elapsed "$start")
  if [ "$cleaner" = cleaner ]; then
    docker exec bench-sess journalctl -u web2py-sessions2trash@probe.service --since "$since" --no-pager -o cat >>"$log" 2>&1 || true
    summary=$(grep -m1 '^redis-sessions2trash: ' "$log" || true)
  fi
  left=$(docker exec -w "$W2P_ROOT" bench-sess "$W2P_PY" /root/bench-sessions.py redis count) || return 1
  say "$cleaner: $start s, status $rc, index entries left $left (keys in Redis before: $keys)${summary:+; $summary}"
  "$PY" scripts/bench/bench.py add "$RESULTS" sessions "$("$PY" -c 'import json,sys
print(json.dumps({"kind": "trash", "cleaner": sys.argv[1], "trash": {"cleaner": sys.argv[1], "count": int(sys.argv[2]),
  "seconds": float(sys.argv[3]), "rc": int(sys.argv[4]), "left": int(sys.argv[5]), "keys": int(sys.argv[6]), "summary": sys.argv[7]}}))' \
    "$cleaner" "$TRASH" "$start" "$rc" "$left" "$keys" "$summary")"
}

# One store: converge with it, make one real session (the seeder's template), the Redis
# sessions2trash timings, then seed up to each size and measure. Non-zero on failure.
store_run() {
  local store=$1 n prev=0 stored cleaner
  play "sessions-$store" scripts/bench/playbooks/sessions.yml -i "$INV" -e "bench_session_store=$store" || return 1
  wait_http http://bench-sess:80/probe/default/counter || return 1
  first_session "$store" || return 1
  if [ "$store" = redis ]; then
    for cleaner in $TRASH_CLEANERS; do trash_measure "$cleaner" || return 1; done
  fi
  for n in $SIZES; do
    seed "$store" $((n - prev)) || return 1
    prev=$n
    docker cp bench-sess:/tmp/cookies.txt "$WORK/cookies-$store.txt" || return 1
    # What the store holds (the seeding checked, not assumed), recorded with each run.
    stored=$(docker exec -w "$W2P_ROOT" bench-sess "$W2P_PY" /root/bench-sessions.py "$store" count) || return 1
    say "$store holds $stored sessions"
    measure sessions http://bench-sess:80/probe/default/counter "/bench-work/cookies-$store.txt" bench-sess store="$store" \
      size="$n" stored="$stored"
  done
}

sessions() {
  CONNS=$SESSION_CONNS
  step "Session stores (sizes: $SIZES; docker --cpus $CPUS, wrk -c$CONNS -t$THREADS -d${DURATION}s x $REPS)"
  local store
  # A run replaces the results of the stores it measures (BENCH_STORES) and keeps the others'.
  for store in ${BENCH_STORES:-file db redis memcache}; do
    "$PY" scripts/bench/bench.py drop "$RESULTS" sessions store="$store"
    if [ "$store" = redis ]; then
      for cleaner in $TRASH_CLEANERS; do "$PY" scripts/bench/bench.py drop "$RESULTS" sessions kind=trash cleaner="$cleaner"; done
    fi
  done
  start_client
  start_node bench-sess --cpus "$CPUS"
  docker cp scripts/bench/seed/sessions.py bench-sess:/root/bench-sessions.py
  for store in ${BENCH_STORES:-file db redis memcache}; do
    say "bench-sess: sessions in $store"
    if ! store_run "$store"; then
      say "sessions in $store: failed (logs in .cache/bench/logs)"
      record_failure sessions store="$store" reason="see .cache/bench/logs/sessions-$store.log and the bench output"
    fi
  done
  write_env sessions "{\"cpus\": \"$CPUS\", \"connections\": $CONNS, \"threads\": $THREADS, \"duration\": $DURATION, \"warmup\": $WARMUP, \"reps\": $REPS, \"cookies\": $COOKIES, \"sizes\": \"$SIZES\", \"trash\": $TRASH, \"trash_cleaners\": \"$TRASH_CLEANERS\"}" \
    "$(versions_json bench-client bench-sess)"
  remove_containers
}

# The trash part alone: bench-sess as in the sessions part (same playbook, Redis sessions), no
# wrk runs; records land with the sessions results (kind=trash), settings in env-trash.json.
trash_part() {
  step "sessions2trash over $TRASH expired Redis sessions: $TRASH_CLEANERS (docker --cpus $CPUS)"
  local cleaner
  for cleaner in $TRASH_CLEANERS; do "$PY" scripts/bench/bench.py drop "$RESULTS" sessions kind=trash cleaner="$cleaner"; done
  start_node bench-sess --cpus "$CPUS"
  docker cp scripts/bench/seed/sessions.py bench-sess:/root/bench-sessions.py
  play sessions-redis scripts/bench/playbooks/sessions.yml -i "$INV" -e bench_session_store=redis || die "converge failed (.cache/bench/logs/sessions-redis.log)"
  first_session redis || die "no Redis session to copy"
  for cleaner in $TRASH_CLEANERS; do trash_measure "$cleaner" || die "$cleaner: the measurement failed"; done
  write_env trash "{\"cpus\": \"$CPUS\", \"trash\": $TRASH, \"cleaners\": \"$TRASH_CLEANERS\", \"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
    "$(versions_json bench-sess)"
  remove_containers
}

# ------------------------------------------------------------------ 3. Ansible
converge_twice() { # NAME PLAYBOOK INVENTORY
  local name=$1 run rc
  for run in fresh idempotent; do
    rc=0
    say "$name: $run run of $2"
    play "ansible-$name-$run" "$2" -i "$3" || rc=$?
    "$PY" scripts/bench/bench.py ansible "$RESULTS" "$LOGS/ansible-$name-$run.log" playbook="$name" run="$run" \
      seconds="$PLAY_SECONDS" rc="$rc" label="$LABEL"
    [ "$rc" -eq 0 ] || return 0
  done
}

ansible_part() {
  # Runs of other labels stay in the results (the report shows them side by side: before and
  # after a speed-up); a run replaces the earlier one of its own label.
  LABEL=${BENCH_LABEL:-$(git describe --always --dirty)}
  step "Ansible: converge from fresh containers and the idempotent re-run (label $LABEL)"
  "$PY" scripts/bench/bench.py drop "$RESULTS" ansible label="$LABEL"
  start_node bench-single
  converge_twice single playbooks/single.yml scripts/bench/inventories/single/hosts.yml
  local pipelining rc
  for pipelining in False True; do
    rc=0
    ANSIBLE_PIPELINING=$pipelining play "ansible-floor-$pipelining" scripts/bench/playbooks/floor.yml \
      -i scripts/bench/inventories/single/hosts.yml || rc=$?
    "$PY" scripts/bench/bench.py ansible "$RESULTS" "$LOGS/ansible-floor-$pipelining.log" playbook=floor \
      run="pipelining $pipelining" seconds="$PLAY_SECONDS" rc="$rc" label="$LABEL"
  done
  remove_containers
  if [ "$QUICK" = 0 ] || [ "${BENCH_CLUSTER:-0}" = 1 ]; then
    local node
    # (the web2py hosts mount the shared uploads and tickets with sshfs: FUSE's device)
    start_node bench-lb
    start_node bench-db
    for node in bench-app1 bench-app2 bench-worker; do start_node "$node" --device /dev/fuse; done
    converge_twice cluster playbooks/site.yml scripts/bench/inventories/cluster/hosts.yml
    remove_containers
  else
    say "--quick: cluster converge skipped (BENCH_CLUSTER=1 runs it)"
  fi
  write_env ansible "{\"cpus\": \"unlimited\", \"apt_cache\": \"per-container .deb cache kept between runs\"}" "{}"
}

prepare
trap cleanup EXIT
trap 'exit 130' INT TERM
case "$ONLY" in
  all) frontends; sessions; ansible_part ;;
  frontends) frontends ;;
  sessions) sessions ;;
  trash) trash_part ;;
  ansible) ansible_part ;;
esac
step "Report"
"$PY" scripts/bench/bench.py report "$RESULTS" docs/benchmarks.md docs/benchmarks.png
say "wrote docs/benchmarks.md and docs/benchmarks.png"
