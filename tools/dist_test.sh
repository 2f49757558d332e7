#!/usr/bin/env bash
# Multi-process testing (as mmdet's tools/dist_test.sh):
#   tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options]
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NPROC [test.py options]" >&2
    exit 2
fi
exec "$(dirname "$0")/torchrun.sh" test "$3" "$1" "$2" "${@:4}"
