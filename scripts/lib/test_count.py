#!/usr/bin/env python3
"""Counts distinct tests from xunit's TRX files (dotnet test --logger trx).

    test_count.py LOCAL.trx [RUN.trx ...]   one line per run, then "DISTINCT passed=N failed=M skipped=K"
    test_count.py --summary RUN.trx         "P passed, F failed, K skipped" for one run

The first file is the full local run; the others are the same tests run again elsewhere
(the black-box suite against the containers). Every result folds into one distinct test,
so a test run three times counts once, and it passes only if it passed in every run it
had: failed anywhere -> failed; passed somewhere and failed nowhere -> passed; never run
(skipped everywhere) -> skipped. A run against servers that are already running names its
forwarders forwarder1, forwarder2, ...; each is a forwarder in front of main, so their
rows fold into the local "forwarder" row.

A TRX file may have a neighbour RUN.trx.label: one line saying what that run ran against.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
EXTERNAL_FORWARDER = re.compile(r'target: "forwarder\d+"')


def outcome(text):
    if text == "Passed":
        return PASSED
    if text == "NotExecuted":
        return SKIPPED
    return FAILED  # Failed, Error, Timeout, Aborted, ...: anything that is not a pass or a skip


def read_run(path, fold_forwarders=True):
    """Returns {test name: (outcome, message)} for one TRX file."""
    root = ET.parse(path).getroot()
    results = {}
    summary = root.find("t:ResultSummary", NS)
    state = summary.get("outcome", "") if summary is not None else "missing"
    if state not in ("Completed", "Passed", "Failed", "Warning"):
        # A test host that crashed or timed out leaves out the tests it never reached:
        # the run itself counts as one failed test.
        results[f"the run {os.path.basename(path)} (outcome {state})"] = (FAILED, "the test run did not complete")
    ids_by_name = {}
    for r in root.iterfind(".//t:Results/t:UnitTestResult", NS):
        name = r.get("testName", "?")
        # xunit shortens long arguments in display names; rows that differ only after the
        # cut are still distinct test cases (distinct testId).
        ids = ids_by_name.setdefault(name, [])
        test_id = r.get("testId", "")
        if test_id not in ids:
            ids.append(test_id)
        key = EXTERNAL_FORWARDER.sub('target: "forwarder"', name) if fold_forwarders else name
        if ids.index(test_id) > 0:
            key += f" #{ids.index(test_id) + 1}"
        message = r.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=NS) or \
            r.findtext("t:Output/t:StdOut", default="", namespaces=NS)
        results[key] = fold(results.get(key), (outcome(r.get("outcome")), message.strip()))
    return results


def fold(a, b):
    if a is None:
        return b
    rank = {FAILED: 0, PASSED: 1, SKIPPED: 2}
    return a if rank[a[0]] <= rank[b[0]] else b


def counts(results):
    c = {PASSED: 0, FAILED: 0, SKIPPED: 0}
    for state, _ in results.values():
        c[state] += 1
    return c


def label(path):
    side = path + ".label"
    if os.path.exists(side):
        with open(side) as f:
            return f.read().strip()
    return os.path.basename(path)


def line(c):
    return f"{c[PASSED]} passed, {c[FAILED]} failed, {c[SKIPPED]} skipped"


def main(argv):
    if len(argv) == 2 and argv[0] == "--summary":
        print(line(counts(read_run(argv[1], fold_forwarders=False))))
        return 0
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    distinct = {}
    for i, path in enumerate(argv):
        run = read_run(path)
        own = read_run(path, fold_forwarders=False)
        indent = "" if i == 0 else "  "
        print(f"{indent}{label(path)}: {len(own)} tests: {line(counts(own))}")
        new = 0
        for key, result in run.items():
            if i > 0 and key not in distinct:
                new += 1
            distinct[key] = fold(distinct.get(key), result)
        if i > 0 and new:
            print(f"    {new} of them did not run locally and count as tests of their own")
    total = counts(distinct)
    for state in (FAILED, SKIPPED):
        names = sorted(k for k, v in distinct.items() if v[0] == state)
        for name in names[:30]:
            reason = distinct[name][1].splitlines()[0] if distinct[name][1] else ""
            print(f"  {state}: {name}" + (f" ({reason[:160]})" if reason else ""))
        if len(names) > 30:
            print(f"  ... and {len(names) - 30} more {state}")
    print(f"DISTINCT passed={total[PASSED]} failed={total[FAILED]} skipped={total[SKIPPED]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
