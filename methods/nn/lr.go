package nn

// LRSetter is an optimizer whose learning rate can change between steps,
// for learning-rate schedules. Every optimizer of the package implements it.
type LRSetter interface {
	Optimizer
	// SetLR sets the learning rate of the steps that follow; the state
	// (momenta, step counts) is kept.
	SetLR(lr float32)
}

// SetLR sets the learning rate of the steps that follow.
func (o *SGD) SetLR(lr float32) { o.LR = lr }

// SetLR sets the learning rate of the steps that follow (AdamW's too).
func (o *Adam) SetLR(lr float32) { o.LR = lr }
