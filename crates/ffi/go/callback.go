package capstan

// This file holds the Go functions C calls back; cgo allows only declarations in its preamble.

// #include <stdint.h>
// #include <stddef.h>
import "C"

import (
	"fmt"
	"io"
	"runtime/cgo"
	"unsafe"
)

// sink is what a context write's callback writes to; err keeps the writer's own error.
type sink struct {
	w   io.Writer
	err error
}

//export goCapstanWrite
func goCapstanWrite(handle C.uintptr_t, data *C.uint8_t, n C.size_t) (ret C.int32_t) {
	s, ok := cgo.Handle(handle).Value().(*sink)
	if !ok {
		return 2
	}
	if s.err != nil {
		// Refused once already: keep the first error, never write again.
		return 1
	}
	defer func() {
		// A panicking writer must not unwind through Rust frames: report it instead.
		if r := recover(); r != nil {
			s.err = fmt.Errorf("capstan: the writer panicked: %v", r)
			ret = 1
		}
	}()
	// io.Writer must not keep p, so the C buffer is lent, not copied.
	p := unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n))
	for len(p) > 0 {
		k, err := s.w.Write(p)
		if err != nil {
			s.err = err
			return 1
		}
		if k == 0 {
			s.err = io.ErrShortWrite
			return 1
		}
		p = p[k:]
	}
	return 0
}
