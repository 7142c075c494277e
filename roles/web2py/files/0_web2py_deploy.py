# -*- coding: utf-8 -*-
# pylint: disable=undefined-variable  # web2py injects request, response, session, cache, DAL
# Managed by web2py.deploy (role web2py): overwritten on every run. This application's
# session and cache stores, as chosen in the inventory (session_store, cache_store). Settings
# and credentials come from private/appconfig.ini (0600): [session], [cache], [redis],
# [memcache]. It runs first among the models (0_...), so sessions are connected before any
# other model touches them. Session cookies: HttpOnly, SameSite ([session] cookie_samesite, Lax
# by default) and Secure on every answer to an HTTPS request.
#   session_store: file (web2py's default) | db | redis | memcache | cookie
#   cache_store:   ram (web2py's default) | disk | redis | memcache; redis and memcache also
#                  replace cache.ram and cache.disk, as the guide does, so the application's
#                  existing cache.ram calls are shared by every web2py process and node.


def _web2py_deploy_stores():
    import os

    from gluon.contrib.appconfig import AppConfig

    conf = AppConfig(reload=False)

    def setting(path, default=None):
        # take() gives the text as written; get() would turn "a,b" into a map, "1e5" into a
        # float and "true" into True, which breaks passwords and URIs.
        try:
            value = str(conf.take(path)).strip()
        except BaseException:  # AppConfig raises BaseException for a missing key
            return default
        return default if value == "" else value

    # The private CA (web2py.deploy.pki): the Redis and memcached clients below verify with it,
    # and libpq (DAL URIs with ?sslmode=verify-full; pydal passes no sslrootcert). The front ends'
    # WSGI entry point and the server and scheduler units set PGSSLROOTCERT before any model
    # runs; this covers other launchers (web2py.py -S app -M) for the models after this one.
    ca_file = setting("tls.ca_file")
    if ca_file:
        os.environ.setdefault("PGSSLROOTCERT", ca_file)

    session_store = setting("session.store", "file")
    cache_store = setting("cache.store", "ram")
    expiry = int(setting("session.expiry", "3600"))
    used = {session_store, cache_store}

    redis_conn = None
    if "redis" in used:
        from gluon.contrib.redis_utils import RConn

        redis_conn = RConn(
            host=setting("redis.host", "127.0.0.1"),
            port=int(setting("redis.port", "6379")),
            db=int(setting("redis.db", "0")),
            username=setting("redis.user"),
            password=setting("redis.password"),
            socket_timeout=5,
            **_web2py_deploy_redis_tls(setting("redis.tls", "false"), ca_file)
        )
    memcache_client = None
    if "memcache" in used:
        import web2py_deploy_memcache

        memcache_client = web2py_deploy_memcache.client(
            servers=setting("memcache.servers", "127.0.0.1:11211").split(","),
            user=setting("memcache.user", ""),
            password=setting("memcache.password", ""),
            ca_file=ca_file if setting("memcache.tls", "false").lower() == "true" else None,
        )

    if cache_store == "redis":
        from gluon.contrib.redis_cache import RedisCache

        cache.redis = RedisCache(redis_conn=redis_conn, with_lock=True, fail_gracefully=True)
        cache.ram = cache.disk = cache.redis
    elif cache_store == "memcache":
        cache.memcache = web2py_deploy_memcache.MemcacheCache(memcache_client, request.application)
        cache.ram = cache.disk = cache.memcache
    elif cache_store == "disk":
        cache.ram = cache.disk

    if session_store == "redis":
        from gluon.contrib.redis_session import RedisSession

        session.connect(request, response, db=RedisSession(redis_conn=redis_conn, session_expiry=expiry, with_lock=True))
    elif session_store == "memcache":
        session.connect(request, response, db=web2py_deploy_memcache.MemcacheSessionDB(memcache_client, expiry))
    elif session_store == "db":
        session_db = DAL(setting("session.db_uri"), pool_size=int(setting("session.pool_size", "5")), migrate=setting("db.migrate", "true").lower() == "true")
        session.connect(request, response, db=session_db)
    elif session_store == "cookie":
        _web2py_deploy_cookie_session_in()
        session.connect(request, response, cookie_key=setting("session.cookie_key"), compression_level=None)

    _web2py_deploy_session_cookies(setting("session.cookie_samesite", "Lax"), session_store == "cookie")


def _web2py_deploy_session_cookies(same_site, data_in_cookie):
    """The session cookies are HttpOnly, SameSite=<same_site> and, on an answer to an HTTPS
    request, Secure. request.is_https is the scheme the client used as the front end, or a
    balancer it trusts, says (they drop what clients send). web2py 3.x marks the session id
    cookie HttpOnly and SameSite=Lax itself, but Secure only after session.secure(), and the
    cookie that holds the session itself (session_store=cookie) not at all: it is marked here
    when web2py sets it, at the end of the request (as text: web2py 3.x hands it bytes)."""
    secure = bool(request.is_https)
    # Session keys web2py reads when it writes the session id cookie (and never saves alone).
    # Secure is only ever added: a session.secure() of the application stays.
    if secure:
        session._secure = True
    session._same_site = same_site
    if not data_in_cookie:
        return
    from http.cookies import SimpleCookie

    class SessionCookies(SimpleCookie):
        def __setitem__(self, key, value):
            data = key == response.session_data_name
            if data and isinstance(value, bytes):
                # web2py 3.x sets the session's bytes as they are: the cookie would say b'...'
                value = value.decode("ascii")
            SimpleCookie.__setitem__(self, key, value)
            if data:
                # as the session id cookie gets them, at the end of the request (after any
                # session.secure() or session.samesite() of the application's own code)
                morsel = dict.__getitem__(self, key)
                morsel["httponly"] = True
                if session._same_site:
                    morsel["samesite"] = session._same_site
                if session._secure:
                    morsel["secure"] = True

    cookies = SessionCookies()
    dict.update(cookies, response.cookies)
    response.cookies = cookies


def _web2py_deploy_cookie_session_in():
    """session_store=cookie on web2py 3.x (3.3.3 included): it reads the cookie's text where its
    secure_loads wants bytes (TypeError: every request after the first one of a session failed
    with a ticket), and wrote the session as b'...'. The cookie's value is handed over as bytes,
    without that b'...' wrapper (cookies written before this model fixed the writes). web2py
    2.x takes either."""
    name = "session_data_%s" % request.application.lower()
    morsel = request.cookies.get(name)
    if morsel is None or not isinstance(morsel.value, str):
        return
    value = morsel.value
    if value.startswith("b'") and value.endswith("'"):
        value = value[2:-1]
    morsel.set(morsel.key, value.encode("ascii", "replace"), morsel.coded_value)


def _web2py_deploy_redis_tls(tls, ca_file):
    """redis-py's arguments for TLS that verifies the server's certificate and name."""
    if tls.lower() != "true":
        return {}
    return {"ssl": True, "ssl_ca_certs": ca_file, "ssl_cert_reqs": "required", "ssl_check_hostname": True}


def web2py_deploy_db_uris(read_only=False):
    """DAL URIs of this application's database from private/appconfig.ini, for DAL(...).

    With read_only=True: the read replicas (db.read_uris) in random order, then the primary, so
    DAL spreads reads over the replicas and falls back to the next URI when one is down (the
    guide's replicated-databases recipe); without replicas, or for writes: [primary].
    Usage in db.py, with read_only = request.function in READ_ONLY_ACTIONS:
        db = DAL(web2py_deploy_db_uris(read_only), migrate=not read_only, ...)
    (DAL keeps its .table files per URI: without migrate=False it would try to create the
    tables on a replica, which refuses writes.)
    """
    import random

    from gluon.contrib.appconfig import AppConfig

    conf = AppConfig(reload=False)
    primary = str(conf.take("db.uri")).strip()
    try:
        # One URI per line: a URI may hold spaces (in its password), never a line break.
        replicas = [uri.strip() for uri in str(conf.take("db.read_uris")).splitlines() if uri.strip()]
    except BaseException:  # AppConfig raises BaseException for a missing key
        replicas = []
    if not read_only or not replicas:
        return [primary]
    return random.sample(replicas, len(replicas)) + [primary]


_web2py_deploy_stores()
