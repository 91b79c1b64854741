#!/usr/bin/env bash
# Prints docs/quality.md's table: circlefit against purr (the Rust port of fogleman/primitive)
# on the photographs in assets/photos/source/, both measured in this one run.
# Extra arguments go to the harness (benches/src/bin/quality.rs), e.g. --sizes 256:300.
set -euo pipefail
cd "$(dirname "$0")/.."
PURR=${PURR:-$(command -v purr || true)}
if [ -z "$PURR" ]; then
    cargo install purrmitive --features cli --bin purr --root target/purr
    PURR=target/purr/bin/purr
fi
cargo build --release -p circlefit-cli
cargo build --release -p circlefit-benches --bin quality
target/release/quality --purr "$PURR" "$@"
