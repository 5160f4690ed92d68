//go:build capstan_pkgconfig

package capstan

// #cgo pkg-config: capstan
import "C"
