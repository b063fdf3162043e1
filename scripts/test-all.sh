#!/usr/bin/env bash
# Every test of nestlab: types, lint, format, unit and component tests (Vitest), then the
# browser tests (Playwright driving Debian's Chromium against the built app).
# Installs Debian's chromium first when /usr/bin/chromium is missing (needs root, as in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium (browser tests need /usr/bin/chromium)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi

mkdir -p test-results
echo "== typecheck"
npx tsc --noEmit -p .
echo "== lint"
npx eslint .
echo "== format"
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
echo "== unit and component tests (vitest)"
vitest_rc=0
npx vitest run --reporter=default --reporter=json --outputFile=test-results/vitest.json || vitest_rc=$?
echo "== build"
npx vite build --logLevel warn
echo "== browser tests (playwright, Debian chromium)"
pw_rc=0
PLAYWRIGHT_JSON_OUTPUT_NAME=test-results/playwright.json npx playwright test --reporter=list,json || pw_rc=$?

node scripts/test-totals.mjs test-results/vitest.json test-results/playwright.json
if [ "$vitest_rc" != 0 ] || [ "$pw_rc" != 0 ]; then exit 1; fi
