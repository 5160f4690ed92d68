#!/usr/bin/env bash
# Builds libcapstan and installs it for C and Go programs:
#   PREFIX/lib/libcapstan.a, PREFIX/lib/libcapstan.so, PREFIX/include/capstan.h,
#   PREFIX/lib/pkgconfig/capstan.pc
# Usage: crates/ffi/install.sh [--prefix DIR] [--no-build]   (default prefix: /usr/local)
# Then: cc app.c $(pkg-config --cflags --libs capstan)    (shared; an rpath to PREFIX/lib
#       is in Libs, so nothing else is needed at run time), or statically:
#       cc app.c $(pkg-config --cflags capstan) PREFIX/lib/libcapstan.a -lpthread -ldl -lm
set -euo pipefail
cd "$(dirname "$0")/../.."

prefix=/usr/local
build=1
while (($#)); do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
prefix="$(mkdir -p "$prefix" && cd "$prefix" && pwd)"

if ((build)); then
    cargo build --release --locked -p capstan-ffi
fi
lib="$(.ci/target-dir)/release" # honours CARGO_TARGET_DIR
version="$(sed -n '/^version = /{s/^version = "\(.*\)"/\1/p;q}' Cargo.toml)"

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0644 "$lib/libcapstan.a" "$prefix/lib/libcapstan.a"
install -m 0755 "$lib/libcapstan.so" "$prefix/lib/libcapstan.so"
install -m 0644 crates/ffi/include/capstan.h "$prefix/include/capstan.h"

# The pkg-config file from its template (crates/ffi/capstan.pc.in, shipped in the crate),
# without the template's comments. The prefix is escaped for sed's replacement (\, & and the |
# delimiter).
sed_prefix="$(printf '%s' "$prefix" | sed 's/[\\&|]/\\&/g')"
sed -e '/^#/d' -e "s|@PREFIX@|$sed_prefix|g" -e "s|@VERSION@|$version|g" crates/ffi/capstan.pc.in \
    >"$prefix/lib/pkgconfig/capstan.pc"
echo "installed libcapstan $version under $prefix (pkg-config: $prefix/lib/pkgconfig)"
