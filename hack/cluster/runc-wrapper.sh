#!/bin/sh
# runc for the Evently test cluster (hack/cluster.sh): this VM refuses a negative
# oom_score_adj, and the kubelet asks for -998 on every pod sandbox, so runc would fail with
# "can't get final child's PID from pipe: EOF". On create/run, clamp process.oomScoreAdj in
# the bundle's config.json to 0, then hand over to Debian's runc unchanged.
bundle=.
command=
previous=
for arg in "$@"; do
  case "$previous" in --bundle|-b) bundle="$arg" ;; esac
  case "$arg" in
    --bundle=*) bundle="${arg#--bundle=}" ;;
    create|run) [ -z "$command" ] && command="$arg" ;;
  esac
  previous="$arg"
done
if [ -n "$command" ] && [ -f "$bundle/config.json" ]; then
  sed -i -E 's/"oomScoreAdj":-[0-9]+/"oomScoreAdj":0/' "$bundle/config.json"
fi
exec "${EVENTLY_RUNC:-/usr/sbin/runc}" "$@"
