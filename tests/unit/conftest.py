"""Make this checkout importable as ansible_collections.web2py.deploy for plain pytest runs.

Under ansible-test (the checkout already sits at .../ansible_collections/web2py/deploy and
ansible-test's collection loader is active) nothing is changed. Otherwise a temporary directory
holding ansible_collections/web2py/deploy -> <checkout> goes first on sys.path, and is removed
when the interpreter exits.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _already_importable() -> bool:
    parts = os.path.realpath(_ROOT).split(os.sep)
    if parts[-3:] == ["ansible_collections", "web2py", "deploy"]:
        base = os.sep.join(parts[:-3]) or os.sep
        if base not in sys.path:
            sys.path.insert(0, base)
        return True
    return False


def _remove(base: str, link: str) -> None:
    # Unlink the symlink first so nothing can ever recurse into the checkout.
    if os.path.islink(link):
        os.unlink(link)
    shutil.rmtree(base, ignore_errors=True)


def _link_checkout() -> None:
    base = tempfile.mkdtemp(prefix="web2py-deploy-units-")
    link = os.path.join(base, "ansible_collections", "web2py", "deploy")
    atexit.register(_remove, base, link)
    os.makedirs(os.path.dirname(link))
    os.symlink(_ROOT, link)
    sys.path.insert(0, base)


if not _already_importable():
    _link_checkout()


def load_role_file(relative: str, name: str):
    """A Python file a role installs (roles/<role>/files/...), loaded as the module ``name``
    (registered in sys.modules: dataclasses look their module up there)."""
    import importlib.util  # pylint: disable=import-outside-toplevel

    spec = importlib.util.spec_from_file_location(name, os.path.join(_ROOT, relative))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
