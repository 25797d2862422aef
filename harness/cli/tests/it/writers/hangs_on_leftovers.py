"""Hangs when a previous run left its marker behind: a recovery run that never finishes."""
import os
import sys
import time

target = sys.argv[1]
marker = target + ".partial"
if os.path.exists(marker):
    time.sleep(60)
open(marker, "w").close()
generation = os.environ.get("TORTURE_GENERATION", "1")
tmp = target + ".tmp"
with open(tmp, "w") as f:
    f.write('{"generation": %s}' % generation)
os.replace(tmp, target)
os.unlink(marker)
