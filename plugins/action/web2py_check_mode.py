# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of web2py.deploy.web2py_check_mode (documentation: plugins/modules/web2py_check_mode.py).

Sets the fact web2py_deploy_check_mode to the task's check mode, whoever set it: --check, or
check_mode on the play, a block or the task. ansible_check_mode only follows --check, so a role
that chose its check-mode path with it took the real path under a play's check_mode (as in
playbooks/rolling.yml's check pass). Nothing runs on the host.
"""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        del tmp
        if self._task.args:
            raise AnsibleActionFail("web2py_check_mode takes no option, not: %s" % ", ".join(sorted(self._task.args)))
        check_mode = bool(self._task.check_mode)
        result.update(changed=False, check_mode=check_mode, ansible_facts={"web2py_deploy_check_mode": check_mode})
        return result
