#!/usr/bin/env bash
# Installs what lora-lab needs on a Debian machine: Jupyter (to run the notebooks headless),
# the Python packages the readability metrics are checked against, then the npm dependencies.
# Safe to run again: apt is skipped when every package is already installed.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# jupyter-nbconvert and python3-nbclient run the tslab notebooks under Debian's /usr/bin/python3.
# python3-nltk and python3-pyphen, with the hyphen-en-us patterns, are the reference implementations
# that the readability metric tests compare with (sentence splitting and syllable counts).
apt_packages=(jupyter-nbconvert python3-nbclient python3-nltk python3-pyphen hyphen-en-us)

missing=()
for package in "${apt_packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)"
  if [[ "$status" != "ii "* ]]; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: apt packages already installed: ${apt_packages[*]}"
elif [[ "$(id -u)" -eq 0 ]]; then
  echo "setup: installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: missing apt packages: ${missing[*]}" >&2
  echo "setup: run this as root, then run 'npm run setup' again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

if [[ ! -f package-lock.json ]]; then
  echo "setup: package-lock.json is missing. Run 'npm install' once to create it, then commit it." >&2
  exit 1
fi

# package.json's allowScripts keeps the tfjs-node install scripts from running, because they
# download libtensorflow, which fails without network access beyond the npm registry.
echo "setup: installing npm dependencies from package-lock.json"
npm ci --no-audit --no-fund

# tslab depends on @tslab/typescript-for-tslab (TypeScript 5.0.4), which also declares the bins
# tsc and tsserver. npm ci may link those over the project's TypeScript, and TypeScript 5.0 cannot
# compile this project (import attributes need 5.3), so the links are pointed back here.
ln -sfn ../typescript/bin/tsc node_modules/.bin/tsc
ln -sfn ../typescript/bin/tsserver node_modules/.bin/tsserver
expected_typescript="$(node -p "require('typescript/package.json').version")"
linked_typescript="$(node_modules/.bin/tsc --version)"
if [[ "$linked_typescript" != "Version $expected_typescript" ]]; then
  echo "setup: node_modules/.bin/tsc reports '$linked_typescript', expected TypeScript $expected_typescript." >&2
  exit 1
fi

echo "setup: done. Next: 'npm test', or 'npm run notebooks' to execute the notebooks."
