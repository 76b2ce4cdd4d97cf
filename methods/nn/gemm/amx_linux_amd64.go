//go:build amd64 && !purego && linux

package gemm

import (
	"syscall"

	"golang.org/x/sys/cpu"
)

// Linux hands out the AMX tile state only to processes that ask for it
// (arch_prctl ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA); without the
// permission the first tile instruction faults.
const (
	archReqXcompPerm  = 0x1023
	xfeatureXtiledata = 18
)

// amxUsable reports whether this CPU has AMX with bf16 tiles, and the
// kernel has granted this process their use.
func amxUsable() bool {
	if !cpu.X86.HasAMXTile || !cpu.X86.HasAMXBF16 || !cpu.X86.HasAVX512F || !cpu.X86.HasAVX512BF16 {
		return false
	}
	_, _, errno := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}
