"""What the module tests share: AnsibleModule's exit_json and fail_json raise instead of
printing and exiting, so a test reads the result as a Python value.

A test module imports Exit, Fail and the no_exit fixture (autouse) from here."""
from __future__ import annotations

import pytest
from ansible.module_utils import basic


class Exit(Exception):
    """exit_json was called; args[0] holds its result."""


class Fail(Exception):
    """fail_json was called; args[0] holds its result."""


@pytest.fixture(autouse=True)
def no_exit(monkeypatch):
    def exit_json(self, **kwargs):
        raise Exit(kwargs)

    def fail_json(self, **kwargs):
        raise Fail(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


def run_module(main, args, check_mode=False, diff=False):
    """Run a module's main() with ARGS (check and diff mode when asked): (succeeded, result)."""
    from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel

    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises((Exit, Fail)) as info:
            main()
    return info.type is Exit, info.value.args[0]
