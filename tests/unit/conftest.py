"""Make this checkout importable as ansible_collections.web2py.deploy for plain pytest runs."""
from __future__ import annotations

import os
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_dir() -> str:
    # Inside an ansible_collections/web2py/deploy checkout (ansible-test), use it as it is.
    parts = _ROOT.split(os.sep)
    if parts[-3:-1] == ["ansible_collections", "web2py"] and parts[-1] == "deploy":
        return os.sep.join(parts[:-3])
    base = tempfile.mkdtemp(prefix="web2py-deploy-units-")
    os.makedirs(os.path.join(base, "ansible_collections", "web2py"))
    os.symlink(_ROOT, os.path.join(base, "ansible_collections", "web2py", "deploy"))
    return base


sys.path.insert(0, _collections_dir())
