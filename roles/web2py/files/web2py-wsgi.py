# Managed by web2py.deploy (role web2py).
"""web2py's WSGI application for the front ends that embed Python, read as UTF-8.

The one entry point of nginx_uwsgi's vassal (``wsgi-file``), apache_wsgi's daemon
(``WSGIScriptAlias``) and lighttpd_fcgi's FastCGI handler (``runpy.run_path``). Each starts it
with the web2py folder as its working directory and first ``sys.path`` entry, where the role put
``wsgihandler.py``.

web2py's ``gluon/main.py`` sets ``LC_CTYPE`` to "C" when it is imported, unless
``global_settings.web2py_runtime_handler`` is already true; ``wsgihandler.py`` sets that flag
only after ``from gluon.settings import ...``, which imports ``gluon/__init__.py``, which
imports ``gluon.main`` first. The flag always comes too late, and LC_CTYPE ends up "C"
whatever locale the process started with. A Python run as a program falls back to its UTF-8
mode in the C locale (web2py's own units also set PYTHONUTF8=1); Python embedded in uWSGI or
mod_wsgi, or started by systemd in LANG=C.UTF-8, never does, so every text file opened without
an encoding is read as ASCII: one non-ASCII value in private/appconfig.ini makes every request
of the application fail with UnicodeDecodeError. The files web2py.deploy writes are UTF-8: the
locale is set back to C.UTF-8 (the C locale's rules with UTF-8 characters, shipped by Debian's
libc-bin) once web2py is imported.
"""
import locale
import os

# The private CA's certificate (web2py.deploy.pki) libpq verifies PostgreSQL with, for DAL URIs
# with sslmode=verify-full (pydal passes no sslrootcert): set before web2py runs any model. The
# role writes the path here when a client verifies a server; empty otherwise.
PGSSLROOTCERT = ""
if PGSSLROOTCERT:
    os.environ.setdefault("PGSSLROOTCERT", PGSSLROOTCERT)

import wsgihandler  # noqa: E402  # pylint: disable=wrong-import-position  # web2py's handlers/wsgihandler.py, placed next to web2py.py by the role

locale.setlocale(locale.LC_CTYPE, "C.UTF-8")

application = wsgihandler.application
