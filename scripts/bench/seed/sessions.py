# -*- coding: utf-8 -*-
"""Bulk session seeding for scripts/bench.sh, run INSIDE bench-sess as root with the web2py
virtualenv's python, in the web2py root (/srv/web2py/web2py):

    python sessions.py STORE seed COUNT COOKIES_OUT [--cookies K] [--expired]
    python sessions.py redis clear          # drop every probe session key and the index
    python sessions.py redis keys           # keys in the Redis database (DBSIZE)
    python sessions.py STORE count          # how many sessions the store holds

STORE is file, db, redis or memcache (the probe application's session_store). Sessions are
written directly in each store's format, never through HTTP: one real session made by web2py
(bench.sh requests /probe/default/counter first) is the template; each copy gets its own id
and unique key, exactly as gluon/globals.py Session and gluon/contrib/redis_session.py (or the
collection's web2py_deploy_memcache) name and store them:

  file      applications/probe/sessions/<xxx>/<yyy>/<client>-<uuid> (gluon.recfile's hashed
            folders): the pickled Session, owner web2py; cookie "<client>-<uuid>"
  db        table web2py_session_probe (PostgreSQL), rows copied server-side with
            generate_series; cookie "<id>:<unique_key>"
  redis     hash w2p:sess:probe:<id> {locked, client_ip, modified_datetime, session_data,
            unique_key}, member of the set w2p:sess:probe:id_idx, TTL = session expiry;
            w2p:sess:probe:serial moved past the new ids
  memcache  w2p:sess:web2py_session_probe:<id> = pickled field dict (flags 2), TTL = expiry;
            ...:serial moved past the new ids

COOKIES_OUT receives K "session_id_probe=..." lines for sessions spread over everything
seeded so far (wrk's report.lua gives each thread its own slice). --expired (redis): the
copies get a 1 s TTL and a modified_datetime two hours back, i.e. 1M sessions web2py's Redis
store has let expire, for the sessions2trash timings (scripts/bench.sh's trash part).
"""
import configparser
import datetime
import os
import pickle
import pwd
import random
import socket
import subprocess
import sys
import time
import uuid

APP = "probe"
ROOT = os.getcwd()
APP_DIR = os.path.join(ROOT, "applications", APP)
BATCH = 10000


def conf():
    parser = configparser.RawConfigParser()
    parser.read(os.path.join(APP_DIR, "private", "appconfig.ini"))
    return parser


def opt(parser, section, key, default=""):
    try:
        return parser.get(section, key).strip()
    except (configparser.NoSectionError, configparser.NoOptionError):
        return default


def expiry():
    return int(opt(conf(), "session", "expiry", "3600"))


# ---------------------------------------------------------------- file
def file_dir():
    return os.path.join(APP_DIR, "sessions")


def file_path(name):
    """Where web2py keeps the session file <name>: gluon.recfile.generate spreads them over
    two levels of hashed folders (sessions/<xxx>/<yyy>/<name>)."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from gluon.recfile import generate  # imported once, then cached by Python

    return os.path.join(file_dir(), generate(name))


def file_walk():
    for path, _dirs, files in os.walk(file_dir()):
        for name in files:
            yield os.path.join(path, name)


def file_seed(count, k, _expired):
    remembered = "/root/bench-file-template"  # the first template, not a scan of 1M files later
    if os.path.exists(remembered):
        with open(remembered) as handle:
            template = handle.read().strip()
    else:
        found = sorted(file_walk(), key=os.path.getmtime)
        if not found:
            sys.exit("no session file to copy: request /probe/default/counter first")
        template = found[0]
        with open(remembered, "w") as handle:
            handle.write(template)
    with open(template, "rb") as handle:
        data = handle.read()
    client = os.path.basename(template).split("-")[0]
    user = pwd.getpwnam("web2py")
    made = []
    for _i in range(count):
        # web2py: "%s-%s" % (request.client with ':' -> '.', web2py_uuid()), in recfile's folders
        name = "%s-%s" % (client, uuid.uuid4())
        path = file_path(name)
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            os.makedirs(folder)
            for level in (folder, os.path.dirname(folder)):
                os.chown(level, user.pw_uid, user.pw_gid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.close(fd)
        os.chown(path, user.pw_uid, user.pw_gid)
        made.append(name)
    return ["session_id_%s=%s" % (APP, n) for n in random.sample(made, min(k, len(made)))]


def file_count():
    return sum(1 for _path in file_walk())


# ---------------------------------------------------------------- db (PostgreSQL)
TABLE = "web2py_session_%s" % APP


def psql(sql):
    out = subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-d", "web2py", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return out.stdout


def db_seed(count, k, _expired):
    template = psql("SELECT min(id) FROM %s" % TABLE).strip()
    if not template:
        sys.exit("no session row to copy: request /probe/default/counter first")
    psql(
        "INSERT INTO {t} (locked, client_ip, created_datetime, modified_datetime, unique_key, session_data) "
        "SELECT s.locked, s.client_ip, now(), now(), md5(g::text || clock_timestamp()::text || random()::text), "
        "s.session_data FROM {t} s, generate_series(1, {n}) g WHERE s.id = {id}; ANALYZE {t};".format(
            t=TABLE, n=int(count), id=int(template))
    )
    rows = psql(
        "SELECT id || ':' || unique_key FROM %s WHERE id IN (SELECT (random() * (SELECT max(id) FROM %s))::int "
        "FROM generate_series(1, %d)) LIMIT %d" % (TABLE, TABLE, k * 2, k))
    return ["session_id_%s=%s" % (APP, line) for line in rows.split()]


def db_count():
    return int(psql("SELECT count(*) FROM %s" % TABLE).strip())


# ---------------------------------------------------------------- redis
def redis_conn():
    import redis  # the web2py virtualenv has it when a store uses Redis

    parser = conf()
    return redis.Redis(
        host=opt(parser, "redis", "host", "127.0.0.1"), port=int(opt(parser, "redis", "port", "6379")),
        db=int(opt(parser, "redis", "db", "0")), username=opt(parser, "redis", "user") or None,
        password=opt(parser, "redis", "password") or None, socket_timeout=60,
    )


PREFIX = "w2p:sess:%s" % APP


def redis_seed(count, k, expired):
    r = redis_conn()
    index = PREFIX + ":id_idx"
    template = None
    for key in r.sscan_iter(index, count=100):
        template = r.hgetall(key)
        if template:
            break
    if not template:
        sys.exit("no Redis session to copy: request /probe/default/counter first")
    ttl = 1 if expired else expiry()
    if expired:
        old = datetime.datetime.now() - datetime.timedelta(hours=2)
        template[b"modified_datetime"] = str(old).encode()  # as redis-py writes a datetime
    start = r.incrby(PREFIX + ":serial", count) - count + 1
    ids = range(start, start + count)
    picked = set(random.sample(ids, min(k, count)))
    cookies = []
    pipe = r.pipeline(transaction=False)
    for n, record_id in enumerate(ids, 1):
        key = "%s:%d" % (PREFIX, record_id)
        fields = dict(template)
        fields[b"unique_key"] = uuid.uuid4().hex.encode()
        pipe.hset(key, mapping=fields)
        pipe.expire(key, ttl)
        pipe.sadd(index, key)
        if record_id in picked:
            cookies.append("session_id_%s=%d:%s" % (APP, record_id, fields[b"unique_key"].decode()))
        if n % BATCH == 0:
            pipe.execute()
    pipe.execute()
    if len(cookies) < k:  # keep earlier sessions in the sample as well
        members = r.srandmember(index, k - len(cookies)) or []
        for key in members:
            unique = r.hget(key, "unique_key")
            if unique:
                cookies.append("session_id_%s=%s:%s" % (APP, key.decode().rsplit(":", 1)[1], unique.decode()))
    return cookies


def redis_count():
    r = redis_conn()
    return r.scard(PREFIX + ":id_idx")


def redis_keys():
    """Keys Redis still holds: expired hashes count until Redis reclaims them (on access, or
    by its active expiry cycle), which the cleaner's EXISTS calls trigger for the rest."""
    return redis_conn().dbsize()


def redis_clear():
    r = redis_conn()
    index = PREFIX + ":id_idx"
    pipe = r.pipeline(transaction=False)
    n = 0
    for key in r.sscan_iter(index, count=BATCH):
        pipe.unlink(key)
        n += 1
        if n % BATCH == 0:
            pipe.execute()
    pipe.unlink(index)
    pipe.execute()
    return n


# ---------------------------------------------------------------- memcache
MC_TABLE = "w2p:sess:web2py_session_%s" % APP


def mc_socket():
    parser = conf()
    server = opt(parser, "memcache", "servers", "127.0.0.1:11211").split(",")[0]
    host, _sep, port = server.rpartition(":")
    sock = socket.create_connection((host or "127.0.0.1", int(port or 11211)), timeout=60)
    user, password = opt(parser, "memcache", "user"), opt(parser, "memcache", "password")
    if user:
        cred = ("%s %s" % (user, password)).encode()
        sock.sendall(b"set auth 0 0 %d\r\n%s\r\n" % (len(cred), cred))
        reply = sock.recv(64)
        if reply != b"STORED\r\n":
            sys.exit("memcached authentication failed: %r" % reply)
    return sock


def mc_command(sock, line):
    sock.sendall(line)
    reply = b""
    while not reply.endswith(b"\r\n"):
        reply += sock.recv(4096)
    return reply


def mc_get(sock, key):
    sock.sendall(b"get %s\r\n" % key.encode())
    data = b""
    while not data.endswith(b"END\r\n"):
        data += sock.recv(65536)
    if data == b"END\r\n":
        return None
    header, rest = data.split(b"\r\n", 1)
    length = int(header.split()[3])
    return rest[:length]


def memcache_seed(count, k, _expired):
    sock = mc_socket()
    serial_key = MC_TABLE + ":serial"
    current = mc_get(sock, serial_key)
    if current is None:
        sys.exit("no memcached session to copy: request /probe/default/counter first")
    template = None
    for record_id in range(1, int(current) + 1):
        raw = mc_get(sock, "%s:%d" % (MC_TABLE, record_id))
        if raw is not None:
            template = pickle.loads(raw)
            break
    if template is None:
        sys.exit("the memcached session to copy is gone")
    reply = mc_command(sock, b"incr %s %d\r\n" % (serial_key.encode(), count))
    last = int(reply.strip())
    start = last - count + 1
    ttl = expiry()
    picked = set(random.sample(range(start, last + 1), min(k, count)))
    cookies = []
    buf = []
    for n, record_id in enumerate(range(start, last + 1), 1):
        fields = dict(template)
        fields["unique_key"] = uuid.uuid4().hex
        value = pickle.dumps(fields, pickle.HIGHEST_PROTOCOL)
        key = "%s:%d" % (MC_TABLE, record_id)
        buf.append(b"set %s 2 %d %d noreply\r\n%s\r\n" % (key.encode(), ttl, len(value), value))
        if record_id in picked:
            cookies.append("session_id_%s=%d:%s" % (APP, record_id, fields["unique_key"]))
        if n % BATCH == 0:
            sock.sendall(b"".join(buf))
            buf = []
    sock.sendall(b"".join(buf))
    # a round trip: every noreply set before it has been handled
    mc_command(sock, b"version\r\n")
    if len(cookies) < k:  # add random earlier sessions that are still there
        tries = 0
        while len(cookies) < k and tries < 20 * k:
            tries += 1
            record_id = random.randint(1, start - 1) if start > 1 else start
            raw = mc_get(sock, "%s:%d" % (MC_TABLE, record_id))
            if raw is not None:
                cookies.append("session_id_%s=%d:%s" % (APP, record_id, pickle.loads(raw)["unique_key"]))
    return cookies


def memcache_count():
    sock = mc_socket()
    sock.sendall(b"stats\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        data += sock.recv(65536)
    for line in data.decode().splitlines():
        if line.startswith("STAT curr_items "):
            return int(line.split()[2])
    return -1


def main(argv):
    store, action = argv[1], argv[2]
    if action == "count":
        print(globals()["%s_count" % store]())
        return
    if action in ("clear", "keys"):
        print(globals()["%s_%s" % (store, action)]())
        return
    count, out = int(argv[3]), argv[4]
    k = int(argv[argv.index("--cookies") + 1]) if "--cookies" in argv else 256
    expired = "--expired" in argv
    started = time.time()
    cookies = globals()["%s_seed" % store](count, k, expired) if count > 0 else []
    if out != "-":
        with open(out, "w") as handle:
            handle.write("\n".join(cookies) + "\n")
    print("seeded %d %s sessions in %.1f s" % (count, store, time.time() - started))


if __name__ == "__main__":
    main(sys.argv)
