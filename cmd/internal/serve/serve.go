// Package serve holds what the project's commands share: serving an
// http.Server beside background work until the context ends, cutting
// clients that stall ([LimitStalls]), parsing the --trusted-proxy list,
// and opening the --store.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/cmd/internal/backend"
)

// ShutdownTimeout bounds the wait for requests in flight at shutdown.
const ShutdownTimeout = 10 * time.Second

// TLS names the certificate and key files to serve with; nil serves
// plain HTTP.
type TLS struct{ Cert, Key string }

// Run serves srv on ln (over TLS when tls is not nil) and runs each of
// background beside it, until ctx is done or serving fails. Then it shuts
// srv down, waiting up to [ShutdownTimeout] for requests in flight, and
// only after that cancels the background work (so that it can flush what
// the last requests did) and waits for it. It returns every error joined.
// name starts its log lines ("backend", "logout-proxy").
func Run(ctx context.Context, name string, logger *slog.Logger, srv *http.Server, ln net.Listener, tls *TLS, background ...func(context.Context) error) error {
	// Background work runs until the server has shut down, and can tell
	// from Draining when the shutdown began (a monitor then reports not
	// ready, so that load balancers stop sending requests).
	runCtx, stopRun := context.WithCancel(context.WithValue(context.WithoutCancel(ctx), drainingKey{}, ctx.Done()))
	defer stopRun()
	ran := make(chan error, len(background))
	for _, run := range background {
		go func() { ran <- run(runCtx) }()
	}
	served := make(chan error, 1)
	go func() {
		if tls != nil {
			served <- srv.ServeTLS(ln, tls.Cert, tls.Key)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	var serveErr error
	select {
	case <-ctx.Done():
		logger.Info(name + ": shutting down")
	case serveErr = <-served:
		serveErr = fmt.Errorf("serve: %w", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	if shutErr != nil {
		shutErr = fmt.Errorf("shutdown: %w", shutErr)
	}
	stopRun()
	errs := []error{serveErr, shutErr}
	for range background {
		errs = append(errs, <-ran)
	}
	logger.Info(name + ": stopped")
	return errors.Join(errs...)
}

type drainingKey struct{}

// Draining returns a channel that is closed once the [Run] that started
// ctx's background work begins to shut its server down; nil (never
// closed) for a ctx from elsewhere.
func Draining(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(drainingKey{}).(<-chan struct{})
	return ch
}

// ParsePrefixes parses the --trusted-proxy list: comma-separated
// addresses and networks, such as "10.0.0.0/8, 192.0.2.7, 2001:db8::/32";
// empty items are skipped. An address is a network of one address; a
// network with host bits set is refused.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, err2 := netip.ParseAddr(item)
			if err2 != nil {
				return nil, fmt.Errorf("--trusted-proxy %q: want an IP address or a network such as 10.0.0.0/8", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("--trusted-proxy %q: host bits set; did you mean %s?", item, p.Masked())
		}
		out = append(out, p)
	}
	return slices.Clip(out), nil
}

// OpenStore opens the session store that --store names, as
// [backend.OpenStore] does: "" or "sqlite" for sessions.db in dir,
// redis://… (rediss://…), postgres://… (postgresql://…) or
// mysql://user:pass@host:port/db?prefix=… (MySQL, MariaDB). Close it with
// the function returned. An unknown store is an error wrapping
// [ErrUsage].
func OpenStore(ctx context.Context, u, dir string) (logout.Store, func() error, error) {
	s, closeStore, err := backend.OpenStore(ctx, u, dir)
	if errors.Is(err, backend.ErrUnknownStore) {
		return nil, nil, Usage("", fmt.Errorf("--store %q: want sqlite, redis://…, postgres://… or mysql://…", u))
	}
	return s, closeStore, err
}

// BaseURL is the URL to print for a listener's address: an unspecified
// address (0.0.0.0, ::) is shown as localhost.
func BaseURL(addr net.Addr, tls bool) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		host, port = addr.String(), ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}
