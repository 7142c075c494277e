"""Regenerate the variable tables of roles/<role>/README.md from meta/argument_specs.yml.

The table sits between the markers <!-- BEGIN VARIABLES --> and <!-- END VARIABLES -->.
`--check` exits 1 when a README is out of date (run by ./scripts/test.sh lint).
"""
from __future__ import annotations

import pathlib
import sys

import yaml

BEGIN, END = "<!-- BEGIN VARIABLES -->", "<!-- END VARIABLES -->"


def table(spec: dict) -> str:
    rows = ["| variable | type | default | description |", "|---|---|---|---|"]
    for entry, body in spec["argument_specs"].items():
        if entry != "main":
            continue
        for name, opt in body["options"].items():
            default = opt.get("default", "required" if opt.get("required") else "")
            if isinstance(default, (list, dict)):
                default = yaml.safe_dump(default, default_flow_style=True).strip()
            typ = opt.get("type", "str") + (" of " + opt["elements"] if "elements" in opt else "")
            if "choices" in opt:
                typ += " (" + ", ".join(map(str, opt["choices"])) + ")"
            desc = opt.get("description", "")
            desc = " ".join(desc) if isinstance(desc, list) else desc
            if opt.get("no_log"):
                desc += " Secret (no_log)."
            rows.append(f"| `{name}` | {typ} | `{default}` | {desc.replace('|', '/')} |")
    return "\n".join(rows)


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for spec_file in sorted(pathlib.Path("roles").glob("*/meta/argument_specs.yml")):
        readme = spec_file.parent.parent / "README.md"
        text = readme.read_text() if readme.exists() else ""
        if BEGIN not in text:
            stale.append(f"{readme}: no {BEGIN} marker")
            continue
        head, rest = text.split(BEGIN, 1)
        _old, tail = rest.split(END, 1)
        new = f"{head}{BEGIN}\n{table(yaml.safe_load(spec_file.read_text()))}\n{END}{tail}"
        if new != text:
            if check:
                stale.append(f"{readme}: variable table differs from {spec_file}")
            else:
                readme.write_text(new)
    for line in stale:
        print(line)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
