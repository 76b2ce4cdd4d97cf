package main

import "testing"

// TestVDPBF16PS checks the hand-made encoding against GNU as's bytes for
// the same instructions (Intel order: vdpbf16ps dst, src1, src2).
func TestVDPBF16PS(t *testing.T) {
	for _, tc := range []struct {
		dst, src1, src2 int
		want            string
	}{
		{0, 28, 30, "BYTE $0x62; BYTE $0x92; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xc6"},
		{1, 29, 30, "BYTE $0x62; BYTE $0x92; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xce"},
		{27, 29, 31, "BYTE $0x62; BYTE $0x02; BYTE $0x16; BYTE $0x40; BYTE $0x52; BYTE $0xdf"},
		{16, 28, 31, "BYTE $0x62; BYTE $0x82; BYTE $0x1e; BYTE $0x40; BYTE $0x52; BYTE $0xc7"},
	} {
		got := vdpbf16ps(tc.dst, tc.src1, tc.src2)
		if len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
			t.Errorf("vdpbf16ps(Z%d, Z%d, Z%d) = %q, want %q", tc.dst, tc.src1, tc.src2, got, tc.want)
		}
	}
}

func TestVCVTNE2PS2BF16(t *testing.T) {
	for _, tc := range []struct {
		dst, src1, src2 int
		want            string
	}{
		{2, 1, 0, "BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0"},
		{18, 17, 16, "BYTE $0x62; BYTE $0xa2; BYTE $0x77; BYTE $0x40; BYTE $0x72; BYTE $0xd0"},
	} {
		got := vcvtne2ps2bf16(tc.dst, tc.src1, tc.src2)
		if len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
			t.Errorf("vcvtne2ps2bf16(Z%d, Z%d, Z%d) = %q, want %q", tc.dst, tc.src1, tc.src2, got, tc.want)
		}
	}
}
