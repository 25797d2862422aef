#!/bin/sh
# Mercurial setup: the prepared starting state, a repository with one changeset, durable.
# Usage: setup.sh REPO       (as `torture power --setup`)
set -eu
hg init "$1"
cd "$1"
printf '[ui]\nusername = torture <torture@example.invalid>\n' > .hg/hgrc
echo base > base.txt
hg commit -q -A -m base
sync
