package health

import "errors"

// Cause names why a gate failed, so cutover can name it in the deploy record
// and pick the exit code.
type Cause string

const (
	CauseDeadline  Cause = "deadline"   // readiness never held min_healthy within the deadline
	CauseExited    Cause = "exited"     // the container stopped (or is gone)
	CauseCrashLoop Cause = "crash_loop" // more than 3 restarts within 60 s
	CauseUnhealthy Cause = "unhealthy"  // deadline reached while Docker's HEALTHCHECK said unhealthy
	CauseCanceled  Cause = "canceled"   // the caller gave up (ctx canceled)
)

// GateError is a failed gate. Err is the last probe error at a deadline, or
// the context's error when canceled, so errors.Is(err, context.Canceled) holds.
type GateError struct {
	Cause Cause
	Msg   string
	Err   error
}

func (e *GateError) Error() string { return e.Msg }

func (e *GateError) Unwrap() error { return e.Err }

// IsCause reports whether err is a gate failure with cause c.
func IsCause(err error, c Cause) bool {
	var ge *GateError
	return errors.As(err, &ge) && ge.Cause == c
}
