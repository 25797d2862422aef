"""A canary with a narrow window: it removes the old target before renaming the new one in, so a
crash between the two loses the old version. Every other kill point is harmless."""
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ["TORTURE_TARGET"]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
temp = target + ".tmp"
with open(temp, "w") as f:
    f.write('{"generation": %d}\n' % generation)
if os.path.exists(target):
    os.unlink(target)
os.rename(temp, target)
