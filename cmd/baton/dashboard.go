package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/dashboard"
	"go.uber.org/zap"
)

// wireDashboard adds the endpoints the dashboard reads (the deploy event
// stream, the rates summary), starts sampling the rates, and serves the page
// on admin.ui when it is set. The returned func shuts it down.
func (s *server) wireDashboard(ctx context.Context, api *admin.API, errc chan<- error) (func(context.Context), error) {
	api.HandleEvents(s.events)
	api.HandleRates(s.rates)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.up.handedOver:
		}
		s.events.Close()
	}()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.logger.Error("rates sampler panicked", zap.Any("panic", r), zap.Stack("stack"))
			}
		}()
		s.rates.Run(ctx)
	}()
	ln := s.uiLn // bound with the other listeners (or inherited from the baton this one replaced)
	if ln == nil {
		return func(context.Context) {}, nil
	}
	loopback := isLoopbackAddr(ln.Addr())
	if !loopback && s.cfg.Admin.Token == "" { // config validation refuses this; never serve it anyway
		return nil, fmt.Errorf("admin.ui: %s is not loopback: %w", ln.Addr(), admin.ErrTokenRequired)
	}
	h := dashboard.New(dashboard.Options{API: api, Token: s.cfg.Admin.Token, Loopback: loopback, Actions: s.cfg.Admin.UIActions, Logger: s.logger})
	// No WriteTimeout: the event stream is long-lived (it sends heartbeats).
	// Shutdown does not end streams, so their requests hang off a context
	// the shutdown cancels: browsers see the end at once and reconnect.
	streams, endStreams := context.WithCancel(ctx)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return streams }}
	go func() {
		if err := s.errIfServing(srv.Serve(ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin.ui: %w", err)
		}
	}()
	s.logger.Info("dashboard listening", zap.String("addr", ln.Addr().String()), zap.Bool("loopback", loopback), zap.Bool("actions", s.cfg.Admin.UIActions))
	return func(ctx context.Context) {
		endStreams()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}, nil
}

func isLoopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
