#!/usr/bin/python3
"""Validates report.json files against docs/report.schema.json.

usage: check_schema.py SCHEMA FILE_OR_DIR...
A directory is searched for report.json files. Exits 1 on the first invalid
report (naming the file and the failing path), 2 when nothing was found."""
import json
import os
import sys

import jsonschema


def reports(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _dirs, files in os.walk(p):
                for f in files:
                    if f == "report.json" or f.endswith(".report.json"):
                        yield os.path.join(root, f)
        else:
            yield p


def main():
    schema = json.load(open(sys.argv[1]))
    validator = jsonschema.Draft7Validator(schema)
    count = 0
    for path in reports(sys.argv[2:]):
        with open(path) as f:
            doc = json.load(f)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            where = "/".join(str(x) for x in e.path)
            print(f"{path}: invalid at '{where}': {e.message}")
            return 1
        count += 1
    print(f"{count} reports valid")
    return 0 if count else 2


if __name__ == "__main__":
    sys.exit(main())
