module example.invalid/capstan-example

go 1.19

require example.invalid/capstan v0.0.0

replace example.invalid/capstan => ../../crates/ffi/go
