# Managed by web2py.deploy (role nginx_uwsgi).
"""web2py's WSGI application for the uWSGI vassal, read as UTF-8.

web2py's ``gluon/main.py`` sets ``LC_CTYPE`` to "C" when it is imported, unless
``global_settings.web2py_runtime_handler`` is already true; ``wsgihandler.py`` sets that flag
only after ``from gluon.settings import ...``, which imports ``gluon/__init__.py``, which
imports ``gluon.main`` first. The flag always comes too late, and LC_CTYPE ends up "C"
whatever locale the process started with. A Python run as a program falls back to its UTF-8
mode in the C locale; Python embedded in uWSGI never does (its UTF-8 mode cannot be turned on
by PYTHONUTF8 or a uWSGI option), so every text file opened without an encoding is read as
ASCII: one non-ASCII value in private/appconfig.ini makes every request of the application
fail with UnicodeDecodeError. The files the role writes are UTF-8: the locale is set back to
C.UTF-8 (the C locale's rules with UTF-8 characters, shipped by Debian's libc-bin) once web2py
is imported.
"""
import locale

import wsgihandler  # the web2py folder is the vassal's chdir and pythonpath

locale.setlocale(locale.LC_CTYPE, "C.UTF-8")

application = wsgihandler.application
