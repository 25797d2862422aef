"""Replaces its target atomically, and also writes a copy somewhere else (argv[2]): the copy is
outside the sandbox, so nothing about it is tested, and torture must say so."""
import os
import sys
import tempfile

target, elsewhere = sys.argv[1], sys.argv[2]
generation = os.environ.get("TORTURE_GENERATION", "1")
text = '{"generation": %s, "padding": "%s"}' % (generation, "x" * 2000)
fd, temp = tempfile.mkstemp(dir=os.path.dirname(target))
with os.fdopen(fd, "w") as f:
    f.write(text)
os.replace(temp, target)
with open(elsewhere, "w") as f:
    f.write(text)
