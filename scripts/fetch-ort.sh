#!/usr/bin/env bash
# Fetches ONNX Runtime for calma's ORT conversions into deps/onnxruntime/:
#   lib/libonnxruntime.so.1   from the npm package onnxruntime-node (linux x64 build)
#   include/*.h               the official C API headers, from com.github.asus4.onnxruntime
# Debian packages no ONNX Runtime, and npm serves the official binaries. `npm pack`
# only downloads the tarball: no install script of the package runs.
# Idempotent: what is already in place is kept. Exits non-zero on failure, and
# scripts/setup.sh carries on: calma then reports the ORT conversions unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.30.0
HEADERS_PKG=com.github.asus4.onnxruntime@0.4.9
HEADERS_DIR_IN_PKG="package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers"

DEST=deps/onnxruntime
LIB="$DEST/lib/libonnxruntime.so.1"
INC="$DEST/include"

say() { echo "fetch-ort: $*"; }

if ! command -v npm >/dev/null 2>&1; then
  say "npm is not installed (apt-get install npm); ONNX Runtime not fetched" >&2
  exit 1
fi

mkdir -p "$DEST/lib" "$DEST/include"
work="$(mktemp -d "${TMPDIR:-/tmp}/calma-fetch-ort.XXXXXX")"
# The tarballs are over 100 MB each: never leave them behind.
trap 'rm -rf "$work"' EXIT

# Packs NAME@VERSION into $work and prints the tarball's path.
pack() {
  local spec="$1" out
  out="$(cd "$work" && npm pack --loglevel=error --ignore-scripts "$spec" 2>"$work/npm.err" | tail -n 1)"
  if [ -z "$out" ] || [ ! -f "$work/$out" ]; then
    say "npm pack $spec failed: $(grep -v '^npm error *$' "$work/npm.err" | head -n 3 | tr '\n' ' ')" >&2
    return 1
  fi
  echo "$work/$out"
}

status=0

if [ -f "$LIB" ]; then
  say "library already present: $LIB"
else
  say "fetching onnxruntime-node@$ORT_VERSION (about 113 MB) with npm pack"
  if tgz="$(pack "onnxruntime-node@$ORT_VERSION")"; then
    member="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
    if tar -xzf "$tgz" -C "$work" "$member" 2>/dev/null && [ -f "$work/$member" ]; then
      # Write beside, then rename: an interrupted copy never looks installed.
      cp "$work/$member" "$LIB.partial" && mv "$LIB.partial" "$LIB"
      say "installed $LIB (ONNX Runtime $ORT_VERSION)"
    else
      say "$member is not in onnxruntime-node@$ORT_VERSION" >&2
      status=1
    fi
    rm -f "$tgz"
  else
    status=1
  fi
fi

if [ -f "$INC/onnxruntime_c_api.h" ]; then
  say "headers already present: $INC"
else
  say "fetching the C API headers from $HEADERS_PKG (about 150 MB) with npm pack"
  if tgz="$(pack "$HEADERS_PKG")"; then
    if tar -xzf "$tgz" -C "$work" "$HEADERS_DIR_IN_PKG" 2>/dev/null &&
      [ -f "$work/$HEADERS_DIR_IN_PKG/onnxruntime_c_api.h" ]; then
      # The whole folder: onnxruntime_c_api.h includes its siblings.
      rm -rf "$INC.partial"
      mkdir -p "$INC.partial"
      cp "$work/$HEADERS_DIR_IN_PKG"/*.h "$INC.partial/"
      rm -rf "$INC" && mv "$INC.partial" "$INC"
      say "installed headers in $INC ($(ls "$INC" | wc -l) files)"
    else
      say "onnxruntime_c_api.h is not in $HEADERS_PKG" >&2
      status=1
    fi
    rm -f "$tgz"
  else
    status=1
  fi
fi

if [ $status -ne 0 ]; then
  say "incomplete; the ORT conversions will be reported unavailable" >&2
else
  say "ONNX Runtime ready in $DEST (re-run cmake so calma compiles the ORT backend)"
fi
exit $status
