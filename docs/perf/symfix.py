#!/usr/bin/env python3
"""Resolve [unknown] fastgate frames of `perf script` output using nm (perf mis-maps this binary's
text segment, whose file offset and vaddr differ by a page). usage: symfix.py BINARY < script > fixed"""
import sys, re, bisect, subprocess
binary = sys.argv[1]
syms = []
for line in subprocess.run(['nm', '-C', '--defined-only', binary], capture_output=True, text=True).stdout.splitlines():
    parts = line.split(' ', 2)
    if len(parts) == 3 and parts[1] in 'tTwW':
        syms.append((int(parts[0], 16), parts[2]))
syms.sort()
addrs = [a for a, _ in syms]
base = None
# perf prints this binary's frames as file offsets; the text segment's vaddr is one page higher.
TEXT_DELTA = int(sys.argv[2], 16) if len(sys.argv) > 2 else 0x1000
frame = re.compile(r'^(\s+)([0-9a-f]+) (.*) \((.*)\)$')
for line in sys.stdin:
    if base is None and 'PERF_RECORD_MMAP' in line and binary in line and '@ 0 ' in line:
        base = int(re.search(r'\[0x([0-9a-f]+)\(', line).group(1), 16)
        continue
    if "PERF_RECORD_" in line:
        continue
    m = frame.match(line.rstrip('\n'))
    if m and m.group(4) == binary:
        addr = int(m.group(2), 16)
        v = addr - base if base is not None and addr >= base else addr + TEXT_DELTA
        i = bisect.bisect_right(addrs, v) - 1
        name = syms[i][1] if i >= 0 else '[unknown]'
        name = re.sub(r'::h[0-9a-f]{16}$', '', name)
        line = f"{m.group(1)}{m.group(2)} {name}+0x0 ({binary})\n"
    sys.stdout.write(line)
