#!/usr/bin/env python
"""Run rules in a scratch network namespace of the VM and say, per probe, whether the kernel took them.

Usage: probe.py FILE.json, FILE = {"netns": NAME, "setup": [ARGV, ...], "probes": [{"id": ID, "argv": ARGV}, ...]}.
Prints {"setup": [...], "results": {ID: {"rc", "stdout", "stderr"}}} as JSON. The namespace is deleted at the end
(with every rule and set in it); modules the kernel loaded stay loaded, as they would on a node.
"""
import json
import subprocess
import sys


def run(argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, timeout=120, check=False)
    return {"argv": argv, "rc": proc.returncode, "stdout": proc.stdout[-2000:], "stderr": proc.stderr[-2000:]}


def main():
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    netns = spec["netns"]
    subprocess.run(["ip", "netns", "delete", netns], stderr=subprocess.DEVNULL, check=False)
    created = run(["ip", "netns", "add", netns])
    if created["rc"] != 0:
        print(json.dumps({"error": created}))
        return 1
    out = {"setup": [], "results": {}}
    try:
        inside = ["ip", "netns", "exec", netns]
        for argv in spec.get("setup", []):
            out["setup"].append(run(inside + argv))
        for probe in spec["probes"]:
            out["results"][probe["id"]] = run(inside + probe["argv"])
    finally:
        subprocess.run(["ip", "netns", "delete", netns], check=False)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
