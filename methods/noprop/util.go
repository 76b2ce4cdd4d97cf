package noprop

import "math"

var negInf = math.Inf(-1)
