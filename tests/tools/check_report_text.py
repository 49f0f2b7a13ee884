#!/usr/bin/env python3
"""Checks that a rendered calma report is safe to open, whatever names and
messages it holds: check_report_text.py FORMAT FILE [FORMAT FILE ...].

json   parses with Python's strict json (the bytes must be UTF-8)
csv    parses as CSV; no text cell begins with = + - @ (a formula), unless
       it is a lone "-"; the same number of cells in every row
md     no raw HTML tag (<script>, <img ...>), every table row has as many
       unescaped '|' as the header
html   no raw <script>; bytes are UTF-8 (xmllint checks the markup)
svg    parses as XML
table  no control characters (ESC, CR, ...) and valid UTF-8

Exits 1 naming the first problem."""
import csv
import io
import json
import re
import sys
import xml.etree.ElementTree as ET


def fail(fmt, path, why):
    print(f"check_report_text: {fmt} {path}: {why}")
    sys.exit(1)


def text_of(fmt, path):
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(fmt, path, f"not UTF-8: {e}")


def no_controls(fmt, path, text, allowed="\n\t"):
    for i, ch in enumerate(text):
        o = ord(ch)
        if (o < 0x20 and ch not in allowed) or o == 0x7F or 0x80 <= o <= 0x9F:
            fail(fmt, path, f"control character U+{o:04X} at {i}: {text[max(0, i - 30):i + 10]!r}")


def unescaped_pipes(line):
    n, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        n += line[i] == "|"
        i += 1
    return n


def check(fmt, path):
    text = text_of(fmt, path)
    if fmt == "json":
        json.loads(text)
        no_controls(fmt, path, text)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows:
            fail(fmt, path, "no rows")
        width = len(rows[0])
        for r, row in enumerate(rows):
            if len(row) != width:
                fail(fmt, path, f"row {r} has {len(row)} cells, the header {width}")
            for cell in row:
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and cell != "-":
                    try:
                        float(cell)
                        continue  # a number (numbers are written bare)
                    except ValueError:
                        fail(fmt, path, f"row {r}: a cell a spreadsheet runs: {cell[:40]!r}")
        no_controls(fmt, path, text)
    elif fmt == "md":
        if re.search(r"(?<!\\)<\s*[a-zA-Z/]", text):
            fail(fmt, path, "a raw HTML tag")
        head = None
        for line in text.splitlines():
            if not line.startswith("|"):
                continue
            n = unescaped_pipes(line)
            if head is None:
                head = n
            elif n != head:
                fail(fmt, path, f"a row with {n} cell separators, the header has {head}: {line[:80]!r}")
        no_controls(fmt, path, text)
    elif fmt == "html":
        if re.search(r"<\s*script", text, re.I):
            fail(fmt, path, "a raw <script>")
        no_controls(fmt, path, text)
    elif fmt == "svg":
        ET.fromstring(text)
        no_controls(fmt, path, text)
    elif fmt == "table":
        no_controls(fmt, path, text)
    else:
        fail(fmt, path, "unknown format")


def main(argv):
    if len(argv) < 3 or len(argv) % 2 == 0:
        print(__doc__)
        return 2
    for i in range(1, len(argv), 2):
        check(argv[i], argv[i + 1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
