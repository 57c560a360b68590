#!/usr/bin/env bash
# Regenerates testdata/opa/wasm-capabilities.json: the builtins `opa build -t wasm` may use in regate.
# A builtin that is neither compiled natively into the WASM module nor provided by the
# @open-policy-agent/opa-wasm SDK would fail at evaluation time; leaving it out of the
# capabilities turns that into a build error instead.
# The native list is read from the pinned OPA's own WASM compiler source in the Go module cache.
set -euo pipefail
OPA=${OPA:-.bin/opa}
version=$("$OPA" version | awk '/^Version:/ {print $2}')
src="$(go env GOMODCACHE)/github.com/open-policy-agent/opa@v${version}"
[ -d "$src" ] || { echo "OPA v$version source not in the Go module cache; run make tools" >&2; exit 1; }

natives=$(sed -n '/^var builtinsFunctions = map/,/^}/p' "$src/internal/compiler/wasm/wasm.go" \
  | grep -o 'ast\.[A-Za-z0-9]*' | sed 's/^ast\.//' | sort -u \
  | while read -r ident; do
      awk -v v="$ident" '$0 ~ "^var "v" = &Builtin\\{" {f=1} f && /Name:/ {match($0, /"[^"]*"/); print substr($0, RSTART+1, RLENGTH-2); exit}' "$src/v1/ast/builtins.go"
    done)
# Implemented in JavaScript by the SDK (src/builtins/*.js in opa-wasm 1.10.0).
# eq and assign are planned inline by the compiler, never called.
planned="eq assign"
sdk="sprintf json.is_valid regex.split yaml.marshal yaml.unmarshal yaml.is_valid"
allowed=$(printf '%s\n' $natives $planned $sdk | sort -u | jq -R . | jq -s .)
"$OPA" capabilities --current | jq --argjson allowed "$allowed" \
  '.builtins |= map(select(.name as $n | $allowed | index($n))) | del(.wasm_abi_versions)' > testdata/opa/wasm-capabilities.json
echo "testdata/opa/wasm-capabilities.json: $(jq '.builtins | length' testdata/opa/wasm-capabilities.json) builtins"
