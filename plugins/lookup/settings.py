# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup web2py.deploy.settings: the values of some variables, each rendered on its own."""

from __future__ import annotations

DOCUMENTATION = r"""
name: settings
author: web2py.deploy maintainers (@web2py-deploy)
version_added: 1.0.0
short_description: Render variables one by one, naming those that cannot be rendered here
description:
  - Returns one mapping with C(values) (name to rendered value, for the names that are defined and
    render; for the others a mapping with their text under C(unrendered)) and C(unresolved) (the
    names that are defined but whose value cannot be rendered here).
  - The preflight role reads the inputs of every role of a play with it. Under M(ansible.builtin.include_role)
    a role shows its defaults only to its own tasks and the dependencies below it, so a default
    such as C(apache_wsgi_server_name) (which follows C(web2py_tls_common_name)) may not render
    where preflight runs first; preflight's checks then render it with the defaults of the roles
    it depends on.
  - Names that are not defined are left out.
options:
  _terms:
    description: Variable names.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The values of two settings, and which of them cannot be rendered here
  ansible.builtin.debug:
    msg: "{{ lookup('web2py.deploy.settings', 'web2py_user', 'apache_wsgi_server_name') }}"
"""

RETURN = r"""
_raw:
  description: One mapping with C(values) (a mapping of name to value) and C(unresolved) (a list of names).
  type: list
  elements: dict
"""

import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    """Render each named variable separately; a failure names it instead of failing the task."""

    def run(self, terms: t.List[t.Any], variables: t.Optional[t.Dict[str, t.Any]] = None, **kwargs: t.Any) -> t.List[t.Dict[str, t.Any]]:
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        values: t.Dict[str, t.Any] = {}
        unresolved: t.List[str] = []
        for term in terms:
            if not isinstance(term, str):
                raise AnsibleError("web2py.deploy.settings: variable names must be strings, not %r" % (term,))
            if term not in variables:
                continue
            try:
                values[term] = self._templar.template(variables[term])
            except AnsibleError:
                unresolved.append(term)
                # Its text, for the fingerprint (a changed text is a changed setting).
                values[term] = {"unrendered": str(variables[term])}
        return [{"values": values, "unresolved": unresolved}]
