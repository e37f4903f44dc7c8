#!/bin/sh
# bootstrap.sh - the README's Quick start: install what make and the target
# need, then run "make TARGET" (lab, test, deb, ...) in this tree.
#
# Usage: sh scripts/bootstrap.sh TARGET...
#
# Written for the barest Debian there is (debootstrap --variant=minbase: no
# make, no sudo, no procps): POSIX sh and coreutils only until
# scripts/deps.sh has installed the Debian packages (apt-get).  As root it
# runs as it is; as another user it runs itself again with sudo.  Exits
# with make's status.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "bootstrap.sh: needs root to install packages and load BPF programs: run it as root, or install sudo" >&2
		exit 1
	fi
	exec sudo -- sh "$here/bootstrap.sh" "$@"
fi
if [ $# -eq 0 ]; then
	echo "usage: sh scripts/bootstrap.sh TARGET... (e.g. lab or test)" >&2
	exit 2
fi
cd "$here/.."
bash scripts/deps.sh
exec make "$@"
