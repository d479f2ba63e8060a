//go:build unix

package main

import (
	"syscall"

	"go.uber.org/zap"
)

// logOpenFileLimit logs how many connections baton can hold: every client
// and upstream connection is a descriptor. The Go runtime has already raised
// the soft limit to the hard one at start (os package, since Go 1.19, as
// nginx's worker_rlimit_nofile would be set by hand); a hard limit below
// 65536 is worth a warning on a front door.
func logOpenFileLimit(logger *zap.Logger) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		logger.Warn("open file limit unknown", zap.Error(err))
		return
	}
	if rl.Cur < 65536 {
		logger.Warn("open file limit is low for a front door: raise the hard limit (LimitNOFILE= in the systemd unit, ulimit -Hn)",
			zap.Uint64("limit", rl.Cur), zap.Uint64("hard", rl.Max))
		return
	}
	logger.Info("open file limit", zap.Uint64("limit", rl.Cur), zap.Uint64("hard", rl.Max))
}
