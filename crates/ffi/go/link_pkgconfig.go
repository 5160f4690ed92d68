//go:build capstan_pkgconfig

package capstan

// Linking an installed libcapstan: pkg-config finds it (PKG_CONFIG_PATH=PREFIX/lib/pkgconfig)
// and its Libs carry an rpath to PREFIX/lib. Go's build cache is not keyed on pkg-config's
// output, so after installing to another prefix run `go clean -cache` (or build with a fresh
// GOCACHE), or the cached package keeps linking the old prefix.

// #cgo pkg-config: capstan
import "C"
