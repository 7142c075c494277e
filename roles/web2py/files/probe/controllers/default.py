# pylint: disable=undefined-variable  # web2py injects request, response, session, cache, db, DAL, Field
# -*- coding: utf-8 -*-
"""Probe actions. Each returns plain text or JSON, so no view is needed.

/probe/default/ping     plain text "pong"
/probe/default/counter  a session counter (the session cookie is session_id_probe)
/probe/default/visit    the same counter and the host that served it
/probe/default/dbrw     writes a row with a random token and reads it back
/probe/default/dbread   read-only (?token=...): row count, whether the token's row is there, and
                        on PostgreSQL whether a replica answered (db.read_uris)
/probe/default/cached   a value cached for 10 minutes: "hit" tells whether it came from cache
/probe/default/host     which host and process served the request
/probe/default/env      what the backend saw: scheme, HTTPS flag, server port, client address,
                        and what web2py made of them (request.client, is_https, is_local) with
                        the forwarding headers it was handed; only the request's own values
/probe/default/queue    queues probe_task with a random token (only with the scheduler enabled)
/probe/default/task     ?id=N: that task's status, result, and whether its row is in the DB
/probe/default/config   the [probe] section of private/appconfig.ini as AppConfig hands it to the
                        application (web2py_probe_appconfig_extra: {probe: {...}}); only that
                        section, the others hold credentials
/probe/default/fail     raises an error, so web2py writes a ticket (local clients only)
/probe/default/upload   POST file=<a file of 64 KiB at most>: stored in uploads/ as an upload
                        field stores it; its stored name, SHA-256 and the host that stored it
/probe/default/uploaded ?name=<stored name>: the file read back through the field on this host
                        (SHA-256, size, host), or 404
/probe/default/download /<stored name>: web2py's own download of it
                        (the three upload actions only with [probe_uploads] enabled = true in
                        private/appconfig.ini; 404 otherwise)
"""
import hashlib
import io
import json
import os
import re
import socket
import time
import uuid


def _json(data):
    response.headers["Content-Type"] = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response.json(data)


def index():
    return ping()


def ping():
    response.headers["Content-Type"] = "text/plain"
    response.headers["Cache-Control"] = "no-store"
    return "pong"


def counter():
    session.counter = (session.counter or 0) + 1
    return _json({"counter": session.counter})


def visit():
    """The session counter and the host that served it (sessions shared by a cluster)."""
    session.counter = (session.counter or 0) + 1
    return _json({"counter": session.counter, "host": socket.gethostname()})


def dbrw():
    token = uuid.uuid4().hex
    row_id = db.probe_row.insert(probe_token=token, served_by=socket.gethostname())
    db.commit()
    row = db.probe_row(row_id)
    return _json({
        "wrote": token,
        "read": row.probe_token if row else None,
        "id": int(row_id),
        "rows": db(db.probe_row).count(),
        "engine": db._dbname,
    })


def dbread():
    """Read-only: served by a read replica when the application has some (db.read_uris)."""
    found = db(db.probe_row.probe_token == request.vars.token).select(db.probe_row.served_by).first() if request.vars.token else None
    answer = {"engine": db._dbname, "rows": db(db.probe_row).count(), "found": bool(found)}
    if db._dbname == "postgres":
        in_recovery, server = db.executesql("SELECT pg_is_in_recovery(), host(inet_server_addr())")[0]
        answer.update(replica=bool(in_recovery), server=server)
    return _json(answer)


def _cache_value():
    return {"value": uuid.uuid4().hex, "created": time.time()}


def cached():
    fresh = []

    def compute():
        fresh.append(True)
        return _cache_value()

    value = _current_cache()("probe-cache-value", compute, time_expire=600)
    return _json({"value": value["value"], "hit": not fresh})


def _current_cache():
    # "cached" is the action: the name "cache" stays web2py's cache object.
    # A model file may provide probe_cache (e.g. a Redis or memcache cache); default: RAM.
    return globals().get("probe_cache") or cache.ram


def host():
    return _json({"host": socket.gethostname(), "pid": os.getpid()})


def env():
    return _json({
        "scheme": request.env.wsgi_url_scheme,
        "is_https": bool(request.is_https),
        "server_port": request.env.server_port,
        "remote_addr": request.env.remote_addr,
        "server_software": request.env.server_software,
        "host": request.env.http_host,
        "forwarded_for": request.env.http_x_forwarded_for,
        "query": request.env.query_string,
        # What web2py decided from the values above (gluon/main.py): the client address (the
        # first X-Forwarded-For entry, else REMOTE_ADDR), HTTPS (wsgi.url_scheme,
        # X-Forwarded-Proto or HTTPS=on) and whether the client is local.
        "client": request.client,
        "is_local": bool(request.is_local),
        "forwarded_proto": request.env.http_x_forwarded_proto,
        "https_env": request.env.https,
        "real_ip": request.env.http_x_real_ip,
        "forwarded": request.env.http_forwarded,
    })


def _scheduler():
    if globals().get("scheduler") is None:
        raise HTTP(404, "scheduler not enabled")
    return globals()["scheduler"]


def queue():
    token = uuid.uuid4().hex
    _scheduler()
    # A plain insert rather than scheduler.queue_task: gluon 2.26's queue_task reads .errors
    # from validate_and_insert, which current pydal returns as a dict.
    task_id = db.scheduler_task.insert(
        task_name="probe_task", function_name="probe_task", vars=json.dumps({"token": token}),
        group_name="main", timeout=60,
    )
    return _json({"id": task_id, "token": token})


def task():
    status = _scheduler().task_status(int(request.vars.id or 0), output=True)
    if status is None:
        raise HTTP(404, "no such task")
    token = json.loads(status.scheduler_task.vars or "{}").get("token")
    row = db(db.probe_row.probe_token == token).select().first() if token else None
    return _json({
        "status": status.scheduler_task.status,
        "result": status.result,
        "worker": status.scheduler_run.worker_name if status.scheduler_run else None,
        "traceback": status.scheduler_run.traceback if status.scheduler_run else None,
        "row_served_by": row.served_by if row else None,
    })


def config():
    """The [probe] section as the application reads it: take() gives the text of the file."""
    try:
        section = dict(configuration.take("probe"))
    except BaseException:  # AppConfig raises for a missing section (RuntimeError or BaseException)
        raise HTTP(404, "no [probe] section")
    return _json({"probe": section})


def fail():
    """An error on purpose: web2py answers 500 and writes a ticket under errors/."""
    if not request.is_local:
        raise HTTP(403, "local clients only")
    return 1 / 0


# A stored name as web2py's upload field makes it: probe_file.attachment.<16 hex>.<the name, URL-safe base64>.<ext>
STORED_NAME = re.compile(r"^probe_file\.attachment\.[0-9a-f]{16}\.[A-Za-z0-9_=-]{0,300}\.[A-Za-z0-9_]{1,5}\Z")
UPLOAD_MAX = 65536


def _uploads_on():
    try:
        value = configuration.get("probe_uploads.enabled")
    except BaseException:  # AppConfig raises for a missing section
        return False
    return str(value).lower() in ("true", "1", "yes", "on")


def upload():
    """Stores the posted file in uploads/ as the upload field stores it."""
    if not _uploads_on():
        raise HTTP(404, "uploads not enabled")
    posted = request.vars.file
    if request.env.request_method != "POST" or not hasattr(posted, "file"):
        raise HTTP(400, "POST a file as the form field 'file'")
    data = posted.file.read(UPLOAD_MAX + 1)
    if len(data) > UPLOAD_MAX:
        raise HTTP(413, "64 KiB at most")
    name = db.probe_file.attachment.store(io.BytesIO(data), posted.filename or "probe.bin")
    return _json({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                  "host": socket.gethostname()})


def uploaded():
    """The stored file read back through the upload field on the host that answers."""
    if not _uploads_on():
        raise HTTP(404, "uploads not enabled")
    name = request.vars.name or ""
    if not STORED_NAME.match(name):
        raise HTTP(400, "not a stored name")
    try:
        _filename, stream = db.probe_file.attachment.retrieve(name, nameonly=False)
    except (IOError, OSError):
        raise HTTP(404, "no such file")
    try:
        data = stream.read(UPLOAD_MAX + 1)
    finally:
        stream.close()
    return _json({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                  "host": socket.gethostname()})


def download():
    """web2py's own download of a stored file (/probe/default/download/<stored name>)."""
    if not _uploads_on():
        raise HTTP(404, "uploads not enabled")
    if not request.args or not STORED_NAME.match(request.args[-1]):
        raise HTTP(400, "not a stored name")
    # web2py sends it as an attachment, typed by its extension: never sniffed as anything else
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.download(request, db)
