"""Result handling of scripts/bench.sh (run with .cache/bench-venv's python: the report needs
matplotlib). Results are JSON lines under RESULTS_DIR (.cache/bench/results), one file per
part (frontends, sessions, ansible; the trash part's records are in sessions.jsonl, kind=trash)
plus env-<part>.json (machine, versions, settings).

  bench.py wrk RESULTS_DIR PART WRK_OUTPUT key=value...   one wrk run (report.lua's BENCHJSON
                                                         line) as a record with the given keys
  bench.py add RESULTS_DIR PART JSON                     any record
  bench.py drop RESULTS_DIR PART key=value...            remove the records matching all keys
  bench.py env RESULTS_DIR PART JSON                     env-PART.json (machine, versions, settings)
  bench.py ansible RESULTS_DIR LOG key=value...          an ansible-playbook run: PLAY RECAP
                                                         sums and profile_tasks' ten slowest
  bench.py report RESULTS_DIR MARKDOWN PNG               docs/benchmarks.md and the chart
"""
import datetime
import json
import os
import re
import statistics
import sys

BASELINE = "builtin"
FRONTENDS = [
    ("builtin", "web2py built-in server (Rocket, baseline)"),
    ("apache_wsgi", "apache_wsgi (Apache + mod_wsgi)"),
    ("apache_proxy", "apache_proxy (Apache mod_proxy + Rocket)"),
    ("nginx_uwsgi", "nginx_uwsgi (nginx + uWSGI)"),
    ("lighttpd_fcgi_threaded", "lighttpd_fcgi, uWSGI threaded (lighttpd + FastCGI)"),
    ("lighttpd_fcgi_prefork", "lighttpd_fcgi, uWSGI prefork (lighttpd + FastCGI)"),
    ("haproxy_2x_nginx_uwsgi", "HAProxy + 2 nginx_uwsgi nodes"),
]
STORES = ["file", "db", "redis", "memcache"]
STORE_NAMES = {"file": "file", "db": "db (PostgreSQL)", "redis": "Redis", "memcache": "memcached"}
# Who pruned the Redis session index in a trash record (records before the cleaner name none:
# they timed web2py's script).
TRASH_CLEANERS = [
    ("web2py", "web2py's `scripts/sessions2trash.py` (`web2py.py -S probe -M -R scripts/sessions2trash.py "
     "-A -o -x 3600`, what the role's unit ran before; one HGETALL and one SREM per entry)"),
    ("cleaner", "web2py.deploy's batched cleaner (`systemctl start web2py-sessions2trash@probe.service`, whose "
     "drop-in runs `redis-sessions2trash.py`: SSCAN, pipelined EXISTS and SREM per 1,000 entries)"),
]
TRASH_TARGET = 30.0


def trash_records(records):
    """The last trash record of each cleaner, keyed by cleaner."""
    last = {}
    for r in records:
        if r.get("trash"):
            last[r["trash"].get("cleaner", "web2py")] = r
    return last


def parse_kv(items):
    record = {}
    for item in items:
        key, _sep, value = item.partition("=")
        try:
            record[key] = json.loads(value)
        except ValueError:
            record[key] = value
    return record


def append(results, part, record):
    os.makedirs(results, exist_ok=True)
    record.setdefault("at", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    with open(os.path.join(results, "%s.jsonl" % part), "a") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def parse_wrk(text):
    for line in text.splitlines():
        if line.startswith("BENCHJSON "):
            data = json.loads(line[len("BENCHJSON "):])
            seconds = data["duration_us"] / 1e6
            data["rps"] = data["requests"] / seconds if seconds else 0.0
            data["errors_total"] = sum(data["errors"].values())
            return data
    raise ValueError("no BENCHJSON line in the wrk output (did wrk run report.lua?):\n" + text[-2000:])


RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)")
PROFILE = re.compile(r"^(.*\S) -{2,} (\d+(?:\.\d+)?)s$")


def parse_ansible(text):
    recap = {"ok": 0, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0, "hosts": 0}
    slowest = []
    after_recap = False
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("PLAY RECAP"):
            after_recap = True
            continue
        if not after_recap:
            continue
        match = RECAP.match(line)
        if match:
            recap["hosts"] += 1
            for name, value in zip(("ok", "changed", "unreachable", "failed", "skipped"), match.groups()[1:]):
                recap[name] += int(value)
            continue
        match = PROFILE.match(line)
        if match:
            slowest.append([match.group(1).strip(), float(match.group(2))])
    slowest.sort(key=lambda item: -item[1])
    return recap, slowest[:10]


# ------------------------------------------------------------------------------ report
def load(results, part):
    path = os.path.join(results, "%s.jsonl" % part)
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_env(results, part):
    path = os.path.join(results, "env-%s.json" % part)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(records):
    """Median of the repetitions per metric; errors summed over them."""
    if not records:
        return None
    wrk = [r["wrk"] for r in records]
    return {
        "rps": med([w["rps"] for w in wrk]),
        "p50": med([w["latency_us"]["p50"] / 1000.0 for w in wrk]),
        "p99": med([w["latency_us"]["p99"] / 1000.0 for w in wrk]),
        "errors": sum(w["errors_total"] for w in wrk),
        "requests": sum(w["requests"] for w in wrk),
        "reps": len(wrk),
        "cpu_client": med([r.get("cpu_client") for r in records if isinstance(r.get("cpu_client"), (int, float))]),
        "cpu_server": med([r.get("cpu_server") for r in records if isinstance(r.get("cpu_server"), (int, float))]),
        "failed": [r for r in records if r.get("failed")],
    }


def fmt(value, digits=1):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "%.*f" % (digits, value)
    return str(value)


def ratio(value, base):
    if value is None or not base:
        return None
    return value / base


def verdict(ok):
    if ok is None:
        return "not measured"
    return "**met**" if ok else "**missed**"


def report(results, markdown, png):
    lines = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    envs = {part: load_env(results, part) for part in ("frontends", "sessions", "trash", "ansible")}
    lines += [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench.sh` (%s). Re-run: `scripts/bench.sh` (everything), "
        "`scripts/bench.sh --only frontends|sessions|trash|ansible`, `--quick` for a short smoke run. "
        "Raw results: `.cache/bench/results/*.jsonl`; wrk and ansible logs: `.cache/bench/logs/`." % now,
        "",
    ]
    quick_parts = [p for p, e in envs.items() if e and e.get("quick")]
    if quick_parts:
        lines += [
            "> **Smoke run (`--quick`) for: %s.** Short measurements and smaller session counts: "
            "these numbers show the harness works, they are not the benchmark." % ", ".join(quick_parts),
            "",
        ]
    lines += ["![front ends and session stores](%s)" % os.path.relpath(png, os.path.dirname(markdown)), ""]

    # machine and versions
    lines += ["## Machine and versions", ""]
    for part, env in envs.items():
        if not env:
            lines += ["- %s: not measured yet" % part]
            continue
        machine = env.get("machine", {})
        lines += [
            "- **%s** measured %s (%s): %s" % (
                part, env.get("at", "?"), "quick" if env.get("quick") else "full",
                "; ".join("%s %s" % (k, v) for k, v in sorted(machine.items()))),
        ]
        if env.get("settings"):
            lines += ["  - settings: " + ", ".join("%s=%s" % (k, v) for k, v in sorted(env["settings"].items()))]
        for host, versions in sorted(env.get("versions", {}).items()):
            # dpkg-query also names packages that are known but not installed (no version)
            versions = ", ".join(x for x in versions.split(", ") if x.strip() and not re.fullmatch(r"[\w.+-]+ ?", x))
            lines += ["  - %s: %s" % (host, versions)]
    lines += [""]

    # front ends
    fe = load(results, "frontends")
    fe_sum = {}
    for key, _label in FRONTENDS:
        for kind in ("dynamic", "static"):
            fe_sum[(key, kind)] = summarize([r for r in fe if r.get("case") == key and r.get("kind") == kind and "wrk" in r])
    failed_fe = {r["case"]: r.get("reason", "") for r in fe if r.get("failed")}
    env = envs["frontends"] or {}
    settings = env.get("settings", {})
    lines += [
        "## Front ends",
        "",
        "wrk from the container bench-client, %s connections, %s threads, %s s per run after a %s s "
        "warm-up, %s repetitions, median reported (errors: sum over the repetitions: connect, read, "
        "write, timeout and non-2xx/3xx). Every server container is limited to `docker --cpus %s` "
        "(HAProxy: the balancer and each node). Dynamic: `/probe/default/ping`; static: "
        "`/probe/static/blob-100k.txt` (100 KB). Ratio: requests/s against web2py's built-in server. "
        "One app container is switched from recipe to recipe in this order (the roles stop the "
        "previous front end), role defaults for workers and threads; HAProxy's nodes are that "
        "container and a second one." % (
            settings.get("connections", "?"), settings.get("threads", "?"), settings.get("duration", "?"),
            settings.get("warmup", "?"), settings.get("reps", "?"), settings.get("cpus", "?")),
        "",
        "| front end | measured (UTC) | dynamic req/s | p50 ms | p99 ms | errors | x built-in | static req/s | p50 ms | p99 ms | errors | x built-in |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = {k: (fe_sum[(BASELINE, k)] or {}).get("rps") for k in ("dynamic", "static")}
    for key, label in FRONTENDS:
        runs = sorted(r["at"] for r in fe if r.get("case") == key and "at" in r)
        cells = [label, runs[0][:16].replace("T", " ") if runs else ""]
        for kind in ("dynamic", "static"):
            s = fe_sum[(key, kind)]
            if not s:
                failed = key in failed_fe
                cells += [("failed: %s" % failed_fe[key] if kind == "dynamic" else "failed") if failed else "n/a",
                          "", "", "", ""]
                continue
            cells += [fmt(s["rps"], 0), fmt(s["p50"], 2), fmt(s["p99"], 2), str(s["errors"]),
                      fmt(ratio(s["rps"], base[kind]), 2)]
        lines += ["| " + " | ".join(cells) + " |"]
    lines += [
        "",
        "CPU used during the runs (cores, median; from the containers' cgroups): wrk's container / "
        "the server containers. A client near its limit means the number is bounded by the load "
        "generator, not by the front end.",
        "",
        "| front end | dynamic: client / server | static: client / server |",
        "|---|---:|---:|",
    ]
    for key, label in FRONTENDS:
        cells = [label]
        for kind in ("dynamic", "static"):
            s = fe_sum[(key, kind)]
            cells += ["%s / %s" % (fmt(s["cpu_client"], 2), fmt(s["cpu_server"], 2)) if s else "n/a"]
        lines += ["| " + " | ".join(cells) + " |"]
    lines += [""]

    # sessions
    se = load(results, "sessions")
    sizes = sorted({r["size"] for r in se if "wrk" in r})
    env = envs["sessions"] or {}
    settings = env.get("settings", {})
    lines += [
        "## Session stores",
        "",
        "`/probe/default/counter` (reads and writes the session) behind nginx_uwsgi on one container "
        "(`--cpus %s`) running PostgreSQL, Redis and memcached too, with N sessions already in the "
        "store (written directly in web2py's format by `scripts/bench/seed/sessions.py`). Each request "
        "carries the cookie of one of %s existing sessions (each wrk thread its own slice). "
        "%s connections, %s s per run, %s repetitions, median. Cells: p50 / p99 ms (req/s)." % (
            settings.get("cpus", "?"), settings.get("cookies", "?"), settings.get("connections", "?"),
            settings.get("duration", "?"), settings.get("reps", "?")),
        "",
    ]
    if not se:
        lines = lines[:-2] + ["Not measured yet (`scripts/bench.sh --only sessions`).", ""]
    if sizes:
        lines += ["| store | " + " | ".join("%s sessions" % format(n, ",") for n in sizes) + " | errors | largest vs smallest p50 |",
                  "|---|" + "---:|" * len(sizes) + "---:|---:|"]
    se_sum = {}
    for store in STORES:
        cells = [STORE_NAMES[store]]
        errors = 0
        for n in sizes:
            s = summarize([r for r in se if r.get("store") == store and r.get("size") == n and "wrk" in r])
            se_sum[(store, n)] = s
            if s:
                errors += s["errors"]
                cells += ["%s / %s (%s)" % (fmt(s["p50"], 2), fmt(s["p99"], 2), fmt(s["rps"], 0))]
            else:
                cells += ["n/a"]
        first, last = (se_sum.get((store, sizes[0])) if sizes else None), (se_sum.get((store, sizes[-1])) if sizes else None)
        cells += [str(errors), fmt(ratio(last and last["p50"], first and first["p50"]), 2) + "x" if first and last else "n/a"]
        failed = [r for r in se if r.get("store") == store and r.get("failed")]
        if failed:
            cells[0] += " (failed: %s)" % failed[0].get("reason", "")
        if sizes:
            lines += ["| " + " | ".join(cells) + " |"]
    counted = ["%s %s: %s" % (STORE_NAMES[r["store"]], format(r["size"], ","), format(r["stored"], ","))
               for r in se if r.get("rep") == 1 and isinstance(r.get("stored"), int)]
    if counted:
        lines += ["", "Sessions the store held when measured (its own count; memcached: all items): "
                  + "; ".join(counted) + "."]
    trash = trash_records(se)
    if trash:
        lines += [
            "",
            "Pruning the Redis session index: %s expired sessions (TTL 1 s, ran out; still listed in "
            "`w2p:sess:probe:id_idx`) seeded before each run, on the same container (`scripts/bench.sh "
            "--only trash` measures this alone):" % format(max(r["trash"]["count"] for r in trash.values()), ","),
            "",
            "| cleaner | measured (UTC) | wall time s | index entries left | exit status | keys in Redis before |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for key, label in TRASH_CLEANERS:
            if key in trash:
                r = trash[key]
                t = r["trash"]
                lines += ["| %s | %s | **%s** | %s | %s | %s |" % (
                    label, r.get("at", "")[:16].replace("T", " "), fmt(t["seconds"], 1), t.get("left", "?"),
                    t.get("rc", "?"), format(t["keys"], ",") if isinstance(t.get("keys"), int) else "n/a")]
        summary = trash.get("cleaner", {}).get("trash", {}).get("summary")
        if summary:
            lines += ["", "The cleaner's line in the journal: `%s`." % summary]
    lines += [""]

    # ansible
    an = load(results, "ansible")
    env = envs["ansible"] or {}
    lines += [
        "## Ansible",
        "",
        "Wall time of `ansible-playbook` (controller: this machine, connection community.docker.docker) "
        "from fresh containers of the lab image, then the same playbook again (idempotent run). "
        "single: `playbooks/single.yml` with `inventories/lab-single`'s settings on one container; "
        "cluster: `playbooks/site.yml` with `inventories/lab`'s settings on five (as `scripts/lab.sh up`).",
        "",
    ]
    labels = []
    for r in an:
        if r.get("label", "") not in labels:
            labels.append(r.get("label", ""))
    if an:
        lines += ["| label | playbook | run | wall time s | ok | changed | failed | hosts |",
                  "|---|---|---|---:|---:|---:|---:|---:|"]
    else:
        lines += ["Not measured yet (`scripts/bench.sh --only ansible`)."]
    floors = [r for r in an if r["playbook"] == "floor"]
    an = [r for r in an if r["playbook"] != "floor"]
    for r in an:
        recap = r.get("recap", {})
        lines += ["| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r.get("label", ""), r["playbook"], r["run"], fmt(r.get("seconds"), 1), recap.get("ok", "?"),
            recap.get("changed", "?"),
            recap.get("failed", "?") if r.get("rc", 0) == 0 else "%s (rc %s)" % (recap.get("failed", "?"), r.get("rc")),
            recap.get("hosts", "?"))]
    if floors:
        lines += ["", "The floor under every task: one module run (`ansible.builtin.stat`, 50 loop items, "
                  "`scripts/bench/playbooks/floor.yml`) on the single container:", ""]
        for r in floors:
            if r.get("slowest"):
                lines += ["- label %s, %s: %.2f s per module run" % (
                    r.get("label", ""), r["run"], r["slowest"][0][1] / 50)]
    for r in an:
        if r.get("slowest"):
            lines += ["", "Ten slowest tasks, %s, %s run, label %s (profile_tasks: each task's wall "
                      "time, all hosts and loop items):" % (r["playbook"], r["run"], r.get("label", "")),
                      "", "| task | s |", "|---|---:|"]
            lines += ["| %s | %.2f |" % (name.replace("|", "\\|"), secs) for name, secs in r["slowest"]]
    lines += [""]

    # targets
    def fe_ratio(key, kind):
        s = fe_sum.get((key, kind))
        return ratio(s and s["rps"], base[kind]) if s else None

    rows = []
    r = fe_ratio("nginx_uwsgi", "dynamic")
    rows.append(("nginx_uwsgi dynamic >= 2x built-in", fmt(r, 2) + "x" if r else "n/a", verdict(None if r is None else r >= 2)))
    r = fe_ratio("nginx_uwsgi", "static")
    rows.append(("nginx_uwsgi static >= 10x built-in", fmt(r, 2) + "x" if r else "n/a", verdict(None if r is None else r >= 10)))
    for key, label in FRONTENDS[1:]:
        r = fe_ratio(key, "static")
        rows.append(("%s static >= 5x the app server" % key, fmt(r, 2) + "x" if r else "n/a", verdict(None if r is None else r >= 5)))
    if sizes and len(sizes) > 1:
        a, b = se_sum.get(("redis", sizes[0])), se_sum.get(("redis", sizes[-1]))
        for metric in ("p50", "p99"):
            r = ratio(b and b[metric], a and a[metric])
            rows.append(("Redis %s at %s sessions within 20%% of %s" % (metric, format(sizes[-1], ","), format(sizes[0], ",")),
                         fmt(r, 2) + "x" if r else "n/a", verdict(None if r is None else r <= 1.2)))
    else:
        rows.append(("Redis at 1M sessions within 20% of 1k", "n/a", verdict(None)))
    trash = trash_records(se)
    best = trash.get("cleaner") or trash.get("web2py")
    if best:
        t = best["trash"]
        rows.append(("sessions2trash over %s expired Redis sessions <= %.0f s" % (format(t["count"], ","), TRASH_TARGET),
                     "%s s (%s)" % (fmt(t["seconds"], 1), t.get("cleaner", "web2py")),
                     verdict(t.get("rc") == 0 and t.get("left", 1) <= 1 and t["seconds"] <= TRASH_TARGET)))
    else:
        rows.append(("sessions2trash over 1,000,000 expired Redis sessions <= 30 s", "n/a", verdict(None)))
    idem = [x for x in an if x["playbook"] == "single" and x["run"] == "idempotent" and x.get("label", "") == (labels or [""])[-1]]
    if idem:
        x = idem[-1]
        ok = x.get("rc") == 0 and x.get("recap", {}).get("changed") == 0 and x["seconds"] <= 30
        measured = "%s s, %s changed" % (fmt(x["seconds"], 1), x.get("recap", {}).get("changed"))
        rows.append(("single idempotent re-run <= 30 s (0 changed)", measured, verdict(ok)))
    else:
        rows.append(("single idempotent re-run <= 30 s (0 changed)", "n/a", verdict(None)))
    lines += ["## Targets", "", "| target | measured | |", "|---|---:|---|"]
    lines += ["| %s | %s | %s |" % row for row in rows]
    if quick_parts:
        lines += ["", "Verdicts from a `--quick` run are indicative only (smaller session counts: the "
                  "largest measured count stands in for 1M)."]
    lines += [""]

    lines += [
        "## Notes on the method",
        "",
        "- `docker --cpus` is a CFS quota, not a dedicated core: the containers share the machine's "
        "cores with whatever else runs on it (record the load when you publish numbers).",
        "- The front ends run one after the other on one container, each applied by its role over the "
        "previous one (each front-end role stops and disables the other recipes' units; for the "
        "built-in server baseline, which has no front-end role, `scripts/bench/playbooks/recipe.yml` "
        "does it).",
        "- Session counts are made by writing the store directly (same keys, fields and pickles as "
        "web2py's own code, copied from a session web2py created), so the 1M case takes seconds to "
        "minutes, not 1M requests.",
        "- Redis sessions expire by their TTL (web2py_session_expiry); what is left to clean is their "
        "entry in `w2p:sess:probe:id_idx`. web2py's sessions2trash lists the index, reads every hash "
        "and drops the entries whose hash is gone (it cannot read a live session's age: `failed to "
        "retrieve last modified time`). The role's hourly unit runs the batched cleaner instead for "
        "Redis applications: it removes an entry only when EXISTS said its key is gone and never "
        "deletes a hash. \"Keys in Redis before\": expired hashes Redis had not reclaimed yet when the "
        "run started; each run's EXISTS or HGETALL makes Redis delete those it touches.",
        "",
    ]
    # The reading of the numbers (why a target is missed, what would reach it) is written by hand
    # next to the report and included here, so the page has both.
    analysis = os.path.join(os.path.dirname(markdown), "benchmarks-analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as handle:
            lines += [handle.read().rstrip(), ""]
    with open(markdown, "w") as handle:
        handle.write("\n".join(lines))
    chart(png, fe_sum, se_sum, sizes)


def chart(png, fe_sum, se_sum, sizes):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    keys = [k for k, _l in FRONTENDS]
    width = 0.38
    for i, kind in enumerate(("dynamic", "static")):
        values = [(fe_sum.get((k, kind)) or {}).get("rps") or 0 for k in keys]
        bars = ax1.bar([x + (i - 0.5) * width for x in range(len(keys))], values, width, label=kind)
        for rect, value in zip(bars, values):
            if value:
                ax1.annotate("%.0f" % value, (rect.get_x() + rect.get_width() / 2, value), ha="center",
                             va="bottom", fontsize=7)
    ax1.set_xticks(range(len(keys)))
    ax1.set_xticklabels([k.replace("haproxy_2x_nginx_uwsgi", "haproxy+2x\nnginx_uwsgi").replace("builtin", "built-in")
                         for k in keys], fontsize=8, rotation=25, ha="right")
    ax1.set_ylabel("requests/s (median)")
    ax1.set_title("Front ends")
    ax1.legend()
    for store in STORES:
        xs = [n for n in sizes if se_sum.get((store, n))]
        if not xs:
            continue
        line, = ax2.plot(xs, [se_sum[(store, n)]["p50"] for n in xs], marker="o", label="%s p50" % store)
        ax2.plot(xs, [se_sum[(store, n)]["p99"] for n in xs], marker="x", linestyle="--",
                 color=line.get_color(), label="%s p99" % store)
    ax2.set_xscale("log")
    ax2.set_xlabel("existing sessions")
    ax2.set_ylabel("latency ms")
    ax2.set_title("/probe/default/counter by session store")
    if sizes:
        ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv):
    command = argv[1]
    if command == "wrk":
        results, part, path = argv[2], argv[3], argv[4]
        with open(path) as handle:
            text = handle.read()
        record = parse_kv(argv[5:])
        try:
            record["wrk"] = parse_wrk(text)
        except ValueError as error:
            record["failed"] = True
            record["reason"] = str(error).splitlines()[0]
        append(results, part, record)
        if "wrk" in record:
            w = record["wrk"]
            print("    %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d" % (
                w["rps"], w["latency_us"]["p50"] / 1000.0, w["latency_us"]["p99"] / 1000.0, w["errors_total"]))
        else:
            print("    wrk output unusable: %s" % record["reason"])
    elif command == "drop":
        results, part, match = argv[2], argv[3], parse_kv(argv[4:])
        kept = [r for r in load(results, part) if any(r.get(k) != v for k, v in match.items())]
        os.makedirs(results, exist_ok=True)
        with open(os.path.join(results, "%s.jsonl" % part), "w") as handle:
            handle.writelines(json.dumps(r, sort_keys=True) + "\n" for r in kept)
    elif command == "add":
        append(argv[2], argv[3], json.loads(argv[4]))
    elif command == "env":
        results, part, data = argv[2], argv[3], json.loads(argv[4])
        data["at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        os.makedirs(results, exist_ok=True)
        with open(os.path.join(results, "env-%s.json" % part), "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
    elif command == "ansible":
        results, path = argv[2], argv[3]
        record = parse_kv(argv[4:])
        with open(path, errors="replace") as handle:
            record["recap"], record["slowest"] = parse_ansible(handle.read())
        append(results, "ansible", record)
        print("    %s %s: %.1f s, %s" % (record["playbook"], record["run"], record["seconds"], record["recap"]))
    elif command == "report":
        report(argv[2], argv[3], argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
