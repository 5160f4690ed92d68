//go:build !capstan_pkgconfig

package capstan

// By default the package links the static library of the source tree it sits in: build it
// first with `cargo build --release -p capstan-ffi`. With the build tag capstan_pkgconfig it
// uses an installed libcapstan instead (crates/ffi/install.sh, then pkg-config).
//
// The library is found on the linker's search path, by its file name so that the static one
// is taken even beside libcapstan.so. A cgo directive cannot read CARGO_TARGET_DIR: with cargo's
// target directory elsewhere, put it first with
// CGO_LDFLAGS="-g -O2 -L$CARGO_TARGET_DIR/release" (.ci/test does).

// #cgo CFLAGS: -I${SRCDIR}/../include
// #cgo LDFLAGS: -L${SRCDIR}/../../../target/release -l:libcapstan.a -lpthread -ldl -lm
import "C"
