#!/usr/bin/env python3
"""Writes link-order.txt for build.rs from what `generate` ran.

    link_order.py MAP CALLGRIND_OUT... > link-order.txt
    link_order.py --spread CALLGRIND_OUT...


MAP is the linker's map of the release binary (ASSAY_LINK_MAP, mangled
names); each CALLGRIND_OUT a `valgrind --tool=callgrind --dump-instr=yes`
run of that binary. Every input section that holds an executed instruction
is named by its first symbol, in address order, so LLD's
--symbol-ordering-file puts those sections next to each other. Prints to
stderr how many 4 KB pages and 64 KB fault-around windows the executed code
spans now, and how many it would span packed together. With --spread, only
prints (on stdout) the instructions run and the pages and windows they span:
what benches/generate.sh reports.
"""

import bisect
import re
import sys

HEX = r"[0-9a-f]+"
# lld -Map: "VMA LMA Size Align Out/In/Symbol", the last column indented by
# nesting: 8 spaces for an output section, 16 for an input section, 24 for
# a symbol.
LINE = re.compile(rf"^\s*({HEX})\s+({HEX})\s+({HEX})\s+(\d+) (\s*)(\S.*)$")


def read_map(path):
    """Input sections of executable output sections: (start, size, first symbol)."""
    sections = []
    current = None  # [start, size, symbol] of the input section being read
    in_text = False
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            vma, _, size, _, indent, rest = m.groups()
            depth = len(indent)
            if depth == 0:  # output section
                in_text = rest.startswith(".text")
                current = None
            elif not in_text:
                continue
            elif depth == 8:  # input section
                current = [int(vma, 16), int(size, 16), None]
                if current[1] > 0:
                    sections.append(current)
            elif depth == 16 and current is not None and current[2] is None:
                current[2] = rest.strip()
    return [s for s in sections if s[2]]


def executed(path):
    """Instruction addresses in a callgrind --dump-instr=yes profile."""
    addrs, cur = set(), 0
    with open(path) as f:
        for line in f:
            m = re.match(r"^(0x[0-9a-f]+|[+-]\d+)\s", line)
            if m:
                t = m.group(1)
                cur = int(t, 16) if t.startswith("0x") else cur + int(t)
                addrs.add(cur)
    return addrs


def spread(paths):
    """Instructions run (callgrind's totals) and the code they span."""
    total = 0
    for p in paths:
        with open(p) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    total = max(total, int(line.split()[1]))
    addrs = set().union(*(executed(p) for p in paths))
    pages = {a >> 12 for a in addrs}
    windows = {a >> 16 for a in addrs}
    print(
        f"{total:,} instructions; code run spans {len(pages)} 4 KB pages "
        f"in {len(windows)} 64 KB fault-around windows"
    )


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--spread":
        return spread(sys.argv[2:])
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sections = read_map(sys.argv[1])
    starts = [s[0] for s in sections]
    addrs = set().union(*(executed(p) for p in sys.argv[2:]))
    hot = {}
    for a in addrs:
        i = bisect.bisect_right(starts, a) - 1
        if i >= 0 and a < sections[i][0] + sections[i][1]:
            hot[i] = sections[i]
    names, packed = [], 0
    for i in sorted(hot):
        start, size, symbol = hot[i]
        names.append(symbol)
        packed += size
    pages = {a >> 12 for a in addrs}
    windows = {a >> 16 for a in addrs}
    print(
        f"link_order.py: {len(names)} sections, {packed:,} bytes of code executed; "
        f"now {len(pages)} pages in {len(windows)} 64 KB windows, "
        f"packed about {packed // 65536 + 1} windows",
        file=sys.stderr,
    )
    sys.stdout.write("".join(n + "\n" for n in names))


if __name__ == "__main__":
    main()
