// Package openblas routes gonum's blas32 through OpenBLAS (via gonum's cgo
// netlib bindings), as a speed and correctness cross-check for package gemm.
//
// Everything but this comment is behind the build tag openblas, so default
// builds need neither cgo nor OpenBLAS. With the tag it needs cgo, gcc and
// Debian's libopenblas-dev (apt-get install -y libopenblas-dev). OpenBLAS
// picks its kernels when the library loads: run with OPENBLAS_CORETYPE unset
// to get its AVX-512 kernels (the machine's environment forces Haswell), and
// set OPENBLAS_NUM_THREADS to the thread count wanted, for example
//
//	OPENBLAS_CORETYPE= OPENBLAS_L2_SIZE= OPENBLAS_NUM_THREADS=2 \
//	  go test -tags openblas -bench . -run '^$' ./methods/nn/gemm/...
//
// Package openblas imports nothing of the project; its tests import package
// gemm, to compare with it.
package openblas
