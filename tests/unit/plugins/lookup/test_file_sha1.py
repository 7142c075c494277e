"""Unit tests of the web2py.deploy.file_sha1 lookup."""
from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.web2py.deploy.plugins.lookup.file_sha1 import LookupModule, file_sha1


def test_sha1_of_the_bytes(tmp_path):
    data = bytes(range(256)) * 9000  # binary, more than one read block
    path = tmp_path / "web2py_src.zip"
    path.write_bytes(data)
    assert file_sha1(str(path)) == hashlib.sha1(data).hexdigest()
    link = tmp_path / "link.zip"
    link.symlink_to(path)
    assert LookupModule().run([str(path), str(link)], variables={}) == [hashlib.sha1(data).hexdigest()] * 2


@pytest.mark.parametrize("term", ["/nonexistent/web2py.zip", "/", "", None, 3])
def test_refuses_what_is_not_a_file(term):
    with pytest.raises(AnsibleLookupError):
        LookupModule().run([term], variables={})
