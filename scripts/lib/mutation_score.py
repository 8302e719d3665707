#!/usr/bin/env python3
"""Mutation score per folder and per file from Stryker's JSON report (mutation-testing-elements schema).

Score = killed / (killed + survived + no coverage), timeouts counted as killed, as Stryker does;
mutants that do not compile or that Stryker ignores are left out.
"""
import json
import os
import sys
from collections import defaultdict

DETECTED = {"Killed", "Timeout"}
UNDETECTED = {"Survived", "NoCoverage"}


def main(path):
    with open(path) as f:
        report = json.load(f)
    folders = defaultdict(lambda: [0, 0])
    files = {}
    survivors = []
    for name, data in sorted(report["files"].items()):
        detected = undetected = 0
        for m in data["mutants"]:
            if m["status"] in DETECTED:
                detected += 1
            elif m["status"] in UNDETECTED:
                undetected += 1
                line = m["location"]["start"]["line"]
                survivors.append(f'{m["status"]:10} {short(name)}:{line} {m["mutatorName"]}: {m.get("replacement", "")!r}')
        folder = os.path.basename(os.path.dirname(name))
        folders[folder][0] += detected
        folders[folder][1] += undetected
        files[short(name)] = (detected, undetected)
    for title, rows in (("folder", folders), ("file", files)):
        print(f"{title:40} detected/total score")
        for key, (d, u) in sorted(rows.items()):
            total = d + u
            if total == 0:
                continue  # nothing mutated there
            score = 100.0 * d / total if total else 100.0
            print(f"{key:40} {d:4}/{total:<4} {score:6.1f}%")
    if survivors:
        print("undetected mutants:")
        print("\n".join(survivors))


def short(name):
    parts = name.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


if __name__ == "__main__":
    main(sys.argv[1])
