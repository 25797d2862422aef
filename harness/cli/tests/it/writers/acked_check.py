"""Every record acknowledged in the stdout file (`ack N`) must be in the target. With LOG set,
appends `$TORTURE_ACKS|<stdout lines joined by ;>` to it first, for the test to read.

Usage: acked_check.py TARGET STDOUT [LOG]
"""

import os
import sys

target, stdout = sys.argv[1], sys.argv[2]
with open(stdout) as f:
    lines = f.read().splitlines()
if len(sys.argv) > 3:
    with open(sys.argv[3], "a") as log:
        log.write(os.environ["TORTURE_ACKS"] + "|" + ";".join(lines) + "\n")
try:
    with open(target) as f:
        records = set(f.read().splitlines())
except FileNotFoundError:
    records = set()
for line in lines:
    if line.startswith("ack ") and f"rec {line[4:]}" not in records:
        print(f"acknowledged record {line[4:]} is lost")
        sys.exit(1)
