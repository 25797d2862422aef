"""Creates its `_SUCCESS` marker first, then writes the partitions beside it: a SIGKILL between
the two leaves a marker that vouches for partitions that are not there."""
import os
import sys

marker = sys.argv[1]
directory = os.path.dirname(marker)
os.makedirs(directory, exist_ok=True)
with open(marker, "w"):
    pass
for part in range(1, 4):
    with open(os.path.join(directory, f"part-{part}.csv"), "w") as out:
        out.write("".join(f"{part},{row}\n" for row in range(300)))
