#!/usr/bin/env bash
# Runs `go test -v` over the given packages (default ./...) with any extra
# go test flags from GOTEST_FLAGS, keeps the full log, prints each package's
# result, every failed or skipped test, and a closing count. Under CI a
# skipped test is an error: a green CI means every tier really ran.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
log=${GOTEST_LOG:-$(mktemp -t vifpath-test.XXXXXX.log)}
pkgs=("$@")
[ ${#pkgs[@]} -eq 0 ] && pkgs=(./...)
# shellcheck disable=SC2086
$GO test -count=1 -v ${GOTEST_FLAGS:-} "${pkgs[@]}" >"$log" 2>&1
rc=$?
grep -E '^(ok|FAIL|---|\?)\s' "$log" | grep -vE '^\s*--- PASS' | grep -E '^(ok|FAIL|--- FAIL|--- SKIP|\?)' || true
pass=$(grep -cE '^\s*--- PASS' "$log")
fail=$(grep -cE '^\s*--- FAIL' "$log")
skip=$(grep -cE '^\s*--- SKIP' "$log")
if [ "$rc" -ne 0 ]; then
	echo "--- go test failed (exit $rc); the failures in full:"
	grep -E -B2 -A40 '^\s*--- FAIL|^panic:|^FAIL\s|build failed|\[setup failed\]' "$log" | tail -400
fi
if [ -n "${CI:-}" ] && [ "$skip" -gt 0 ]; then
	echo "--- CI is set and $skip tests skipped: every tier must run in CI"
	grep -E -A3 '^\s*--- SKIP' "$log"
	rc=1
fi
echo "full log: $log"
echo "$pass passed, $fail failed, $skip skipped"
exit "$rc"
