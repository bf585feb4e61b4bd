package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/gateway"
)

// The upstream transport dials with a route's connect timeout when the
// attempt's context carries one, and with the default otherwise.
func TestUpstreamTransportConnectTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	tr := upstreamTransport(time.Second)
	if _, err := tr.DialContext(context.Background(), "tcp", srv.Listener.Addr().String()); err != nil {
		t.Fatalf("default dial: %v", err)
	}
	ctx := gateway.WithConnectTimeout(context.Background(), time.Nanosecond)
	_, err := tr.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("dial with a 1ns connect timeout: %v, want a timeout", err)
	}
}
