#!/usr/bin/env bash
# Installs kubernetes-validate (PyPI; the Kubernetes schemas ship inside the package) into a
# virtualenv under .build/kubernetes-validate, for the tests that check `export kube` and
# `compose convert --format kube`, and prints its path. Idempotent; safe to run concurrently
# (the test suite's parallel tests all call it): one install runs, the others wait for it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.build/kubernetes-validate"
tool="$venv/bin/kubernetes-validate"
mkdir -p "$root/.build"
exec 9>"$root/.build/kubernetes-validate.lock"
flock 9
if [[ ! -x "$tool" ]]; then
    rm -rf "$venv"   # a venv an earlier install left half-made is made again from nothing
    /usr/bin/python3 -m venv "$venv" </dev/null >&2
    "$venv/bin/pip" install -q --disable-pip-version-check kubernetes-validate </dev/null >&2 || {
        rm -rf "$venv"
        echo "kube-validator.sh: pip could not install kubernetes-validate" >&2
        exit 1
    }
fi
echo "$tool"
