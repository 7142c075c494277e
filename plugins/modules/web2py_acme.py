#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_acme
short_description: Obtain an ACME certificate with certbot when its lineage is not as asked
version_added: 1.1.0
description:
  - Compares certbot's lineage O(request.name) (its renewal settings and its certificate) with
    the request, and runs C(certbot certonly) only when they differ, so an idempotent run asks
    the ACME server for nothing.
  - The lineage is as asked when its renewal settings name the ACME server, the authenticator
    (with the webroot, or the loopback address and port of the standalone server), the deploy
    hook and an RSA key of O(request.key_size) bits, and its certificate is valid now for exactly
    the requested names. Otherwise certbot runs, with C(--force-renewal) when a lineage exists
    (certbot would keep a certificate not due yet although its settings changed). certbot saves
    the deploy hook in the lineage's settings and runs it after the issuance and after every
    renewal (C(certbot.timer)).
  - When the lineage is as asked but O(request.live_file) does not hold its certificate chain and
    key (root's, C(0600)), or the hook left C(<live_file>.reload-pending) (a server's
    configuration failed its check), the deploy hook runs alone (C(RENEWED_LINEAGE) set).
  - certbot reports success even when its deploy hook failed; after an issuance the module checks
    the live file and fails (keeping earlier lineages) when the hook did not install it.
  - certbot's account keys readable by anyone but root are set back to C(0400).
  - With O(prune), once the lineage is in place, certbot's other lineages whose deploy hook is
    O(request.deploy_hook) (earlier requests for other names) are deleted, so the timer stops
    renewing them. A failed issuance deletes nothing.
  - The key never leaves the host and is never read into the module's result.
  - The endpoint must already serve the HTTP-01 challenges (a webroot served on plain HTTP, or a
    proxy that routes C(/.well-known/acme-challenge/) to the standalone server), so run the
    module after the server's handlers.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  request:
    description:
      - What to ask the ACME server for, as M(web2py.deploy.web2py_tls) outputs it
        (C(web2py_tls_acme_request)).
    type: dict
    required: true
    suboptions:
      name:
        description: certbot's lineage (C(--cert-name)); M(web2py.deploy.web2py_tls) names it after the first domain in sorted order.
        type: str
        required: true
      domains:
        description: The certificate's DNS names.
        type: list
        elements: str
        required: true
      server:
        description: The ACME server's directory URL.
        type: str
        required: true
      email:
        description: Contact address of the ACME account; empty registers without one.
        type: str
        default: ''
      webroot:
        description: The folder served as C(/.well-known/acme-challenge/)'s parent (webroot authenticator).
        type: path
        required: true
      http01_port:
        description: Loopback port of certbot's standalone server (standalone authenticator).
        type: int
        default: 402
      deploy_hook:
        description: The deploy hook certbot saves in the lineage and runs after each issuance.
        type: path
        required: true
      live_file:
        description: The file the deploy hook fills with the certificate chain and the key.
        type: path
        required: true
      ca_bundle:
        description: CA certificates of the ACME server's own HTTPS certificate (C(REQUESTS_CA_BUNDLE)); empty for the system's.
        type: path
        default: ''
      key_size:
        description: Size of the certificate's RSA key.
        type: int
        default: 3072
  authenticator:
    description:
      - V(webroot) behind a web server that serves O(request.webroot); V(standalone) behind a
        proxy that routes the challenges to C(127.0.0.1:)O(request.http01_port).
    type: str
    choices: [webroot, standalone]
    default: webroot
  prune:
    description: Delete the other lineages with the same deploy hook once this one is in place.
    type: bool
    default: true
  config_dir:
    description: certbot's configuration folder.
    type: path
    default: /etc/letsencrypt
attributes:
  check_mode:
    support: full
    description: Reports whether certbot or the hook would run (and why) without running them.
  diff_mode:
    support: full
    description: The lineage's settings before and after (no key material).
  platform:
    support: full
    platforms: posix
    description: Debian with certbot's package (its C(/etc/letsencrypt) layout).
requirements:
  - certbot and openssl on the host
seealso:
  - module: community.crypto.acme_certificate
"""

EXAMPLES = r"""
- name: Obtain the certificate (after the site serves /.well-known/acme-challenge/)
  web2py.deploy.web2py_acme:
    request: "{{ web2py_tls_acme_request }}"

- name: Behind HAProxy (the challenge path routed to certbot on 127.0.0.1:402)
  web2py.deploy.web2py_acme:
    request: "{{ web2py_tls_acme_request }}"
    authenticator: standalone
"""

RETURN = r"""
issued:
  description: Whether certbot asked the ACME server for a certificate (or would, in check mode).
  returned: always
  type: bool
hook_ran:
  description: Whether the deploy hook ran alone to put the lineage back into the live file.
  returned: always
  type: bool
reasons:
  description: What differed from the request.
  returned: always
  type: list
  elements: str
  sample: ["no lineage www.example.org", "server: https://old.example/dir"]
pruned:
  description: The other lineages deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: str
account_keys_fixed:
  description: Account keys set back to 0400.
  returned: always
  type: list
  elements: str
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule

OPENSSL = "openssl"
ROOT_UID = 0  # the live file's owner


def read_renewal(path: str) -> dict[str, str] | None:
    """The top-level and [renewalparams] settings of a renewal file ("key = value" lines)."""
    try:
        with open(path, encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except FileNotFoundError:
        return None
    settings: dict[str, str] = {}
    section = ""
    for line in lines:
        text = line.strip()
        if text.startswith("["):
            section = text.strip("[]")
            continue
        if "=" in text and not text.startswith("#") and section in ("", "renewalparams"):
            key, _sep, value = text.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def wanted_settings(request: dict, authenticator: str) -> dict[str, str]:
    settings = {
        "server": request["server"],
        "authenticator": authenticator,
        "renew_hook": request["deploy_hook"],
        "key_type": "rsa",
        "rsa_key_size": str(request["key_size"]),
    }
    if authenticator == "standalone":
        settings.update({"http01_port": str(request["http01_port"]), "http01_address": "127.0.0.1"})
    else:
        settings["webroot_path"] = request["webroot"] + ","
    return settings


def certificate_names(module: AnsibleModule, cert: str) -> list[str] | None:
    """The DNS names of a certificate valid now, or None (missing, expired, unreadable)."""
    if not os.path.isfile(cert):
        return None
    rc, _out, _err = module.run_command([OPENSSL, "x509", "-in", cert, "-noout", "-checkend", "0"])
    if rc != 0:
        return None
    rc, out, _err = module.run_command([OPENSSL, "x509", "-in", cert, "-noout", "-ext", "subjectAltName"])
    if rc != 0:
        return None
    names = []
    for line in out.splitlines()[1:]:
        names += [part.strip()[4:] for part in line.split(",") if part.strip().startswith("DNS:")]
    return names


def live_file_current(lineage: str, live_file: str) -> bool:
    """Whether the live file is a regular file of root's alone (0600, one link, not a link) and
    holds the lineage's fullchain.pem then privkey.pem, byte for byte."""
    try:
        info = os.lstat(live_file)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != ROOT_UID or stat.S_IMODE(info.st_mode) != 0o600 or info.st_nlink != 1:
            return False
        wanted = b""
        for name in ("fullchain.pem", "privkey.pem"):
            with open(os.path.join(lineage, name), "rb") as stream:
                wanted += stream.read()
        with open(live_file, "rb") as stream:
            return stream.read() == wanted
    except OSError:
        return False


def loose_account_keys(config_dir: str) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(os.path.join(config_dir, "accounts")):
        for name in files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            if name == "private_key.json" and stat.S_ISREG(info.st_mode) and info.st_mode & 0o077:
                found.append(path)
    return sorted(found)


def fix_account_key(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fchmod(descriptor, 0o400)
    finally:
        os.close(descriptor)


def other_lineages(config_dir: str, name: str, hook: str) -> list[str]:
    """certbot's lineages but NAME whose renewal settings name HOOK as their deploy hook."""
    folder = os.path.join(config_dir, "renewal")
    found = []
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if entry.endswith(".conf") and entry[:-5] != name:
            settings = read_renewal(os.path.join(folder, entry)) or {}
            if settings.get("renew_hook") == hook:
                found.append(entry[:-5])
    return found


def certbot_argv(request: dict, authenticator: str, force: bool) -> list[str]:
    argv = ["certbot", "certonly", "--non-interactive", "--agree-tos", "--no-eff-email",
            "--preferred-challenges", "http", "--cert-name", request["name"], "--server", request["server"],
            "--key-type", "rsa", "--rsa-key-size", str(request["key_size"]),
            "--deploy-hook", request["deploy_hook"]]
    for domain in request["domains"]:
        argv += ["-d", domain]
    argv += ["-m", request["email"]] if request["email"] else ["--register-unsafely-without-email"]
    if authenticator == "standalone":
        argv += ["--standalone", "--http-01-address", "127.0.0.1", "--http-01-port", str(request["http01_port"])]
    else:
        argv += ["--webroot", "-w", request["webroot"]]
    if force:
        argv.append("--force-renewal")
    return argv


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "request": {
                "type": "dict", "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "domains": {"type": "list", "elements": "str", "required": True},
                    "server": {"type": "str", "required": True},
                    "email": {"type": "str", "default": ""},
                    "webroot": {"type": "path", "required": True},
                    "http01_port": {"type": "int", "default": 402},
                    "deploy_hook": {"type": "path", "required": True},
                    "live_file": {"type": "path", "required": True},
                    "ca_bundle": {"type": "path", "default": ""},
                    "key_size": {"type": "int", "default": 3072},
                },
            },
            "authenticator": {"type": "str", "choices": ["webroot", "standalone"], "default": "webroot"},
            "prune": {"type": "bool", "default": True},
            "config_dir": {"type": "path", "default": "/etc/letsencrypt"},
        },
        supports_check_mode=True,
    )
    request = module.params["request"]
    authenticator = module.params["authenticator"]
    config_dir = module.params["config_dir"]
    name = request["name"]
    if not request["domains"] or name in ("", ".", "..") or "/" in name:
        module.fail_json(msg="web2py_acme: request.name (%r) must be a lineage name and request.domains not empty" % name)
    lineage = os.path.join(config_dir, "live", name)

    reasons: list[str] = []
    current = read_renewal(os.path.join(config_dir, "renewal", name + ".conf"))
    wanted = wanted_settings(request, authenticator)
    if current is None:
        reasons.append("no lineage %s" % name)
    else:
        reasons += ["%s: %s" % (key, current.get(key, "(none)")) for key, value in wanted.items() if current.get(key) != value]
        names = certificate_names(module, os.path.join(lineage, "cert.pem"))
        if names is None:
            reasons.append("no certificate valid now")
        elif sorted(names) != sorted(request["domains"]):
            reasons.append("names: %s" % ", ".join(names))

    issued = bool(reasons)
    # The hook owes the servers a reload when it left this file (their configuration failed).
    pending = request["live_file"] + ".reload-pending"
    hook_ran = not issued and (not live_file_current(lineage, request["live_file"]) or os.path.lexists(pending))
    loose = loose_account_keys(config_dir)
    stale = other_lineages(config_dir, name, request["deploy_hook"]) if module.params["prune"] else []
    result = {
        "changed": issued or hook_ran or bool(loose) or bool(stale), "issued": issued, "hook_ran": hook_ran,
        "reasons": reasons, "account_keys_fixed": loose, "pruned": stale,
    }
    if module._diff:
        result["diff"] = {
            "before": "".join("%s = %s\n" % (key, (current or {}).get(key, "")) for key in wanted) if current else "",
            "after": "".join("%s = %s\n" % item for item in wanted.items()),
            "before_header": "renewal/%s.conf" % name, "after_header": "renewal/%s.conf" % name,
        }
    if module.check_mode:
        module.exit_json(**result)

    for path in loose:
        fix_account_key(path)
    if issued:
        environ = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        if request["ca_bundle"]:
            environ["REQUESTS_CA_BUNDLE"] = request["ca_bundle"]
        argv = certbot_argv(request, authenticator, force=current is not None)
        rc, out, err = module.run_command(argv, environ_update=environ)
        if rc != 0:
            module.fail_json(msg="web2py_acme: certbot could not obtain the certificate for %s (the site keeps serving "
                                 "what %s holds)" % (", ".join(request["domains"]), request["live_file"]),
                             rc=rc, stdout=out, stderr=err, cmd=argv, **{k: v for k, v in result.items() if k != "changed"})
        result.update(stdout=out, stderr=err, cmd=argv)
        # certbot reports success even when its deploy hook failed: check what the hook did.
        if not live_file_current(lineage, request["live_file"]) or os.path.lexists(pending):
            module.fail_json(msg="web2py_acme: certbot obtained the certificate for %s, but its deploy hook did not install "
                                 "it in %s or reload the servers (see stderr); earlier certificates are kept"
                                 % (", ".join(request["domains"]), request["live_file"]),
                             rc=rc, stdout=out, stderr=err, cmd=argv)
    elif hook_ran:
        rc, out, err = module.run_command([request["deploy_hook"]], environ_update={"RENEWED_LINEAGE": lineage})
        if rc != 0:
            module.fail_json(msg="web2py_acme: the deploy hook %s failed for %s" % (request["deploy_hook"], lineage),
                             rc=rc, stdout=out, stderr=err)
        result.update(stdout=out, stderr=err)
    # Only now, with this lineage in place: the certificates of earlier requests.
    for other in stale:
        rc, out, err = module.run_command(["certbot", "delete", "--non-interactive", "--cert-name", other],
                                          environ_update={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        if rc != 0:
            module.fail_json(msg="web2py_acme: certbot could not delete the earlier lineage %s" % other,
                             rc=rc, stdout=out, stderr=err)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
