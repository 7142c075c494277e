"""Unit tests of web2py.deploy.entries."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.entries import entries


def test_each_item_under_the_key_with_the_other_keys():
    assert entries(["/a", "/b"], "dest", {"mode": "0644"}) == [{"dest": "/a", "mode": "0644"}, {"dest": "/b", "mode": "0644"}]
    assert entries(["/a"], "path") == [{"path": "/a"}]
    assert entries([], "path") == []
    assert entries((item for item in ["/a"]), "path") == [{"path": "/a"}]  # what map() gives


def test_the_other_keys_are_not_shared_between_items():
    result = entries(["/a", "/b"], "dest", {"mode": "0644"})
    result[0]["mode"] = "0600"
    assert result[1]["mode"] == "0644"


def test_several_keys_take_one_value_each():
    pairs = zip(["/a", "/b"], ["x\n", "y\n"])  # what zip gives
    assert entries(pairs, ["dest", "content"], {"diff": False}) == [
        {"dest": "/a", "content": "x\n", "diff": False}, {"dest": "/b", "content": "y\n", "diff": False}]
    assert entries([("/a", "x")], ("dest", "content")) == [{"dest": "/a", "content": "x"}]


BAD = [("/a", "path", None), (["/a"], "", None), (["/a"], "path", "x"), (["/a"], "path", {"path": "/b"}),
       ({"a": 1}, "path", None), (7, "path", None), ([("/a", "x")], [], None), ([("/a", "x")], ["dest", "dest"], None),
       ([("/a", "x")], ["dest", ""], None), ([("/a", "x")], ["dest", "content"], {"content": "y"}),
       ([("/a",)], ["dest", "content"], None), (["/a"], ["dest", "content"], None), ([("/a", "x", "y")], ["dest", "content"], None),
       ([("/a", "x")], 7, None)]


@pytest.mark.parametrize("items, key, extra", BAD)
def test_refuses_what_it_cannot_build(items, key, extra):
    with pytest.raises(AnsibleFilterError):
        entries(items, key, extra)
