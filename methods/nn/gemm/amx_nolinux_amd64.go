//go:build amd64 && !purego && !linux

package gemm

// amxUsable is false: only Linux is asked for the AMX tile state.
func amxUsable() bool { return false }
