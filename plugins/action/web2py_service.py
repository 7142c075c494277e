# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of web2py.deploy.web2py_service (documentation: plugins/modules/web2py_service.py).

Asks systemctl whether the unit is already enabled (or disabled) and active (or stopped) as asked
(one shell command on the host, no Python), and runs ansible.builtin.systemd_service only when it
is not, when the answer is anything but a plain "enabled"/"disabled" and a loaded unit's
"active"/"inactive"/"failed", or when a daemon-reload is asked for.
"""
from __future__ import annotations

import shlex
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

_STATES = ("started", "stopped")


def query_command(name: str) -> str:
    """One shell command: `systemctl is-enabled`'s answer, then LoadState= and ActiveState=."""
    quoted = shlex.quote(name)
    # No pager and no colours: over SSH the command has a terminal (-tt), and systemctl would
    # page its output through less, with escape codes in the values.
    return (
        "LC_ALL=C SYSTEMD_PAGER=cat SYSTEMD_COLORS=0; export LC_ALL SYSTEMD_PAGER SYSTEMD_COLORS; "
        "echo \"IsEnabled=$(systemctl --no-pager is-enabled -- %s 2>/dev/null)\"; "
        "systemctl --no-pager show -p LoadState -p ActiveState -- %s" % (quoted, quoted)
    )


def parse(output: str) -> dict[str, str]:
    """KEY=value lines as a mapping (the first of each key); a terminal's carriage returns are
    dropped, anything else stays in the value (and then matches no state the plugin accepts)."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.rstrip("\r").partition("=")
        if sep and key not in found:
            found[key] = value
    return found


def in_place(status: dict[str, str], enabled: bool | None, state: str | None) -> bool:
    """Whether the unit is as asked, judged only from answers that leave no doubt."""
    if status.get("LoadState") != "loaded":
        return False
    if enabled is not None and status.get("IsEnabled") != ("enabled" if enabled else "disabled"):
        return False
    if state == "started" and status.get("ActiveState") != "active":
        return False
    if state == "stopped" and status.get("ActiveState") not in ("inactive", "failed"):
        return False
    return True


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("name", "enabled", "state", "daemon_reload"))

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        del tmp
        args = self._task.args
        name = args.get("name")
        if not isinstance(name, str) or not name or name.startswith("-") or any(c in name for c in "\n\r\0"):
            raise AnsibleActionFail("name: a unit's name (nginx.service, postgres-backup.timer)")
        try:
            enabled = None if args.get("enabled") is None else boolean(args["enabled"], strict=True)
            daemon_reload = boolean(args.get("daemon_reload", False), strict=True)
        except TypeError as e:
            raise AnsibleActionFail("enabled, daemon_reload: true or false (%s)" % e) from e
        state = args.get("state")
        if state is not None and state not in _STATES:
            raise AnsibleActionFail("state: started or stopped, not %r" % (state,))
        if enabled is None and state is None:
            raise AnsibleActionFail("give enabled, state or both")

        if not daemon_reload:
            out = self._low_level_execute_command(query_command(name), sudoable=True)
            if out.get("rc") == 0 and in_place(parse(out.get("stdout", "")), enabled, state):
                result.update(changed=False, name=name)
                if enabled is not None:
                    result["enabled"] = enabled
                if state is not None:
                    result["state"] = state
                return result

        module_args: dict[str, t.Any] = {"name": name, "daemon_reload": daemon_reload}
        if enabled is not None:
            module_args["enabled"] = enabled
        if state is not None:
            module_args["state"] = state
        result.update(self._execute_module(module_name="ansible.builtin.systemd_service", module_args=module_args, task_vars=task_vars))
        return result
