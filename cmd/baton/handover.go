package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/internal/handover"
	"go.uber.org/zap"
)

// Zero-downtime upgrade of baton itself (`baton upgrade`, SIGUSR2):
//
//  1. the running deploys stop at a safe point, their records saying where
//     the next process goes on (cutover.Deployer.HandOff);
//  2. the binary on disk starts with the listening sockets (HTTP, HTTPS,
//     HTTP/3's UDP socket, the admin socket, metrics) as fds 3.. (package
//     internal/handover);
//  3. it loads the state, lists Docker, publishes the routes and, only then,
//     serves and says "ready"; until then this process alone accepts;
//  4. this process stops accepting (the admin socket first, so `baton status`
//     after `baton upgrade` is answered by the new one), finishes its
//     in-flight requests and streams up to upgrade.drain_timeout, ends its
//     WebSockets with 1001 (they are not handed over: a relayed connection
//     lives in this process's memory), and exits;
//  5. the new process then goes on with the deploys handed over.
//
// If the new process fails (exits, or is not ready within upgrade.timeout),
// it is stopped, this process resumes its own deploys and keeps serving, and
// the error carries the child's exit status and stderr.

// h3HandOverBound is how long the old process's HTTP/3 requests may run on
// after the new process serves (see shutdown in serve.go).
const h3HandOverBound = 2 * time.Second

// upgradeState is the server's side of an upgrade.
type upgradeState struct {
	mu         sync.Mutex // one upgrade at a time
	upgrading  bool
	handedOver chan struct{} // closed once the new process serves
	stopping   atomic.Bool   // set before this process closes its sockets
	successor  *handover.Started

	child   *handover.Child // set when this process is an upgrade's child
	started time.Time
}

func (u *upgradeState) isUpgrading() bool {
	if !u.mu.TryLock() {
		return true
	}
	defer u.mu.Unlock()
	return u.upgrading
}

// parentDone is closed once the process this one replaced is done (at once
// when none was).
func (s *server) parentDone() <-chan struct{} { return s.up.child.ParentDone() }

// sockets are the listening sockets the next process inherits.
func (s *server) sockets() []handover.Socket {
	var out []handover.Socket
	for _, l := range s.listeners {
		name := handover.NameHTTP
		if l == s.https {
			name = handover.NameHTTPS
		}
		out = append(out, handover.Socket{Name: name, Listener: l.Socket()})
	}
	if s.h3 != nil {
		out = append(out, handover.Socket{Name: handover.NameHTTP3, Packet: s.h3.Socket()})
	}
	out = append(out, handover.Socket{Name: handover.NameAdmin, Listener: s.adminLn})
	if s.metricsLn != nil {
		out = append(out, handover.Socket{Name: handover.NameMetrics, Listener: s.metricsLn})
	}
	if s.uiLn != nil {
		out = append(out, handover.Socket{Name: handover.NameUI, Listener: s.uiLn})
	}
	return out
}

// Upgrade implements admin.Upgrader.
func (s *server) Upgrade(ctx context.Context) (admin.UpgradeResult, error) {
	res := admin.UpgradeResult{OldPID: os.Getpid(), OldVersion: version, Drain: s.cfg.Upgrade.DrainTimeout.String()}
	if !s.up.mu.TryLock() {
		return res, admin.ErrUpgradeBusy
	}
	defer s.up.mu.Unlock()
	if s.up.successor != nil {
		return res, fmt.Errorf("%w: this process already handed over to pid %d", admin.ErrUpgradeBusy, s.up.successor.PID)
	}
	s.up.upgrading = true
	defer func() { s.up.upgrading = false }()
	exe, err := os.Executable() // re-resolved now: a binary replaced on disk is the new one
	if err != nil {
		return res, fmt.Errorf("upgrade: the binary on disk: %w", err)
	}
	res.Binary = exe
	log := s.logger.With(zap.String("binary", exe))
	log.Info("upgrade: starting the binary on disk with the listening sockets")
	if s.deploy != nil {
		hctx, cancel := context.WithTimeout(ctx, s.cfg.Upgrade.Timeout)
		res.HandedOff, err = s.deploy.deployer.HandOff(hctx)
		cancel()
		if err != nil {
			s.resumeHere()
			return res, fmt.Errorf("upgrade refused, nothing changed: %w", err)
		}
	}
	st, err := handover.Spawn{Path: exe, Args: os.Args[1:], Sockets: s.sockets(), Timeout: s.cfg.Upgrade.Timeout}.Start(ctx)
	if err != nil {
		s.resumeHere()
		log.Error("upgrade failed; this process keeps serving", zap.Error(err))
		return res, fmt.Errorf("upgrade failed; baton pid %d (%s) keeps serving: %w", os.Getpid(), version, err)
	}
	res.NewPID, res.NewVersion = st.PID, st.Info
	s.up.successor = st
	log.Info("upgrade: the new process serves; this one stops accepting", zap.Int("new_pid", st.PID), zap.String("new_version", st.Info),
		zap.Strings("handed_off", res.HandedOff))
	s.stopAccepting()
	return res, nil
}

// resumeHere takes back the deploys stopped for a hand-over that did not happen.
func (s *server) resumeHere() {
	if s.deploy == nil {
		return
	}
	s.deploy.deployer.EndHandOff()
	if err := s.deploy.deployer.ResumeHandedOff(s.ctx); err != nil {
		s.logger.Error("deploys stopped for the upgrade could not be resumed", zap.Error(err))
	}
}

// stopAccepting closes this process's copies of the sockets the new process
// serves: every connection from now on is the new process's. The admin
// socket's path stays: it is the new process's socket too.
func (s *server) stopAccepting() {
	s.up.stopping.Store(true)
	if ul, ok := s.adminLn.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	s.adminLn.Close()
	if s.metricsLn != nil {
		s.metricsLn.Close()
	}
	if s.uiLn != nil {
		s.uiLn.Close() // the dashboard's streams end with this process; browsers reconnect to the next
	}
	for _, l := range s.listeners {
		l.Socket().Close()
	}
	close(s.up.handedOver)
}

// handingOver reports whether serve errors are this process stopping.
func (s *server) handingOver() bool { return s.up.stopping.Load() }

// waitReady is the child's side: ready once the provider's first view is in
// and every service the saved table routed has its targets again (the quick
// gate of containers found running), within upgrade.timeout less a margin, so
// that the child names what it waited for before its parent gives up.
func (s *server) waitReady(ctx context.Context) error {
	if s.deploy == nil {
		return nil
	}
	within := max(s.cfg.Upgrade.Timeout-2*time.Second, s.cfg.Upgrade.Timeout/2)
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	select {
	case <-s.deploy.controller.Synced():
	case <-ctx.Done():
		return fmt.Errorf("not ready within %s: Docker has not answered the first container list (docker: %s)", within, orDash(s.deploy.docker.Degraded()))
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := s.unrouted()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s: no ready target yet for %s, which the previous process routes", within, strings.Join(missing, ", "))
		case <-tick.C:
		}
	}
}

// unrouted lists the services the saved table routed that have no live
// target in this process yet, while their containers are still there.
func (s *server) unrouted() []string {
	var missing []string
	ins, _ := s.deploy.controller.Instances()
	for _, name := range s.savedLive {
		if sr, ok := s.switchboard.Get(name); ok && len(sr.Live) > 0 {
			continue
		}
		for _, in := range ins {
			if in.Service == name && in.Routable() {
				missing = append(missing, name)
				break
			}
		}
	}
	return missing
}

// routedServices lists the Docker services the switchboard routes to a target.
func routedServices(sb *cutover.Switchboard) []string {
	var out []string
	for _, name := range sb.Names() {
		if sr, ok := sb.Get(name); ok && len(sr.Live) > 0 {
			out = append(out, name)
		}
	}
	return out
}

// finishHandOver is the old process's end: stop the servers (they accept
// nothing already), let in-flight requests and streams finish up to the
// bound, end WebSockets with 1001 there, then release the new process to go
// on with the deploys handed over.
func (s *server) finishHandOver(shutdown func(context.Context)) {
	bound := s.cfg.Upgrade.DrainTimeout
	s.logger.Info("handed over: finishing in-flight requests", zap.Int("new_pid", s.up.successor.PID), zap.Duration("bound", bound))
	ctx, cancel := context.WithTimeout(context.Background(), bound+10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { shutdown(ctx) })
	rep := s.drains.DrainAll(ctx, bound)
	wg.Wait()
	s.logger.Info("handed over: drained; exiting", zap.Duration("waited", rep.Waited), zap.Int("finished", rep.Finished),
		zap.Int("cancelled", rep.Cancelled), zap.Int("websockets_closed", rep.UpgradesClosed))
	s.up.successor.Release()
}

// errIfServing drops the errors of servers this process stopped on purpose.
func (s *server) errIfServing(err error) error {
	if err == nil || s.handingOver() && (errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "use of closed")) {
		return nil
	}
	return err
}
