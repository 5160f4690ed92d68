//go:build !capstan_pkgconfig

package capstan

// By default the package links the static library of the source tree it sits in: build it
// first with `cargo build --release -p capstan-ffi`. With the build tag capstan_pkgconfig it
// uses an installed libcapstan instead (crates/ffi/install.sh, then pkg-config).

// #cgo CFLAGS: -I${SRCDIR}/../include
// #cgo LDFLAGS: ${SRCDIR}/../../../target/release/libcapstan.a -lpthread -ldl -lm
import "C"
