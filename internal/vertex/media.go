package vertex

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// needsFetch reports whether Gemini cannot take media by this URL, so the
// gateway must fetch and inline it: http(s) URLs other than YouTube videos
// and Google's own file URIs. gs:// and other URIs go as fileData.
func needsFetch(m *llm.Media) bool {
	if m == nil || m.Data != "" || m.URL == "" {
		return false
	}
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if IsYouTubeURL(m.URL) {
		return false
	}
	// AI Studio file URIs (…/v1beta/files/…) are Gemini's own references.
	return !strings.EqualFold(u.Hostname(), "generativelanguage.googleapis.com")
}

// inlineMedia returns call with every fetchable media URL replaced by inline
// data. The request is copied on write: the caller's messages are not
// changed.
func (c *Client) inlineMedia(ctx context.Context, call *llm.Call) (*llm.Call, error) {
	req := call.Request
	var msgs []llm.Message
	for i, m := range req.Messages {
		var parts []llm.Part
		for j, p := range m.Content {
			np, changed, err := c.inlinePart(ctx, p, fmt.Sprintf("messages[%d].content[%d]", i, j))
			if err != nil {
				return nil, err
			}
			if !changed {
				continue
			}
			if parts == nil {
				parts = append([]llm.Part(nil), m.Content...)
			}
			parts[j] = np
		}
		if parts == nil {
			continue
		}
		if msgs == nil {
			msgs = append([]llm.Message(nil), req.Messages...)
		}
		msgs[i].Content = parts
	}
	if msgs == nil {
		return call, nil
	}
	nr := *req
	nr.Messages = msgs
	nc := *call
	nc.Request = &nr
	return &nc, nil
}

func (c *Client) inlinePart(ctx context.Context, p llm.Part, param string) (llm.Part, bool, error) {
	switch p.Type {
	case llm.PartImage, llm.PartFile:
		if !needsFetch(p.Media) {
			return p, false, nil
		}
		m, err := c.fetchMedia(ctx, p.Media, p.Type == llm.PartImage, param)
		if err != nil {
			return p, false, err
		}
		p.Media = m
		return p, true, nil
	case llm.PartToolResult:
		if p.ToolResult == nil {
			return p, false, nil
		}
		var content []llm.Part
		for j, q := range p.ToolResult.Content {
			nq, changed, err := c.inlinePart(ctx, q, fmt.Sprintf("%s.content[%d]", param, j))
			if err != nil {
				return p, false, err
			}
			if !changed {
				continue
			}
			if content == nil {
				content = append([]llm.Part(nil), p.ToolResult.Content...)
			}
			content[j] = nq
		}
		if content == nil {
			return p, false, nil
		}
		tr := *p.ToolResult
		tr.Content = content
		p.ToolResult = &tr
		return p, true, nil
	}
	return p, false, nil
}

// fetchMedia downloads m.URL with ctx, at most c.maxMedia bytes, and
// returns it as inline base64 with a media type from the response header
// or, when that is missing or generic, from the bytes themselves. An image
// part must turn out to be an image (a web page is not).
func (c *Client) fetchMedia(ctx context.Context, m *llm.Media, image bool, param string) (*llm.Media, error) {
	shown := redactURL(m.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return nil, llm.InvalidRequest(param, "bad media url %s: %v", shown, err)
	}
	req.Header.Set("Accept", "image/*, video/*, audio/*, application/pdf, */*;q=0.5")
	resp, err := c.media.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, llm.FromTransport(ctx, c.name, ctx.Err())
		}
		if errors.Is(err, errPrivateAddress) {
			return nil, llm.InvalidRequest(param, "media %s resolves to a non-public address, which the gateway does not fetch", shown)
		}
		return nil, llm.InvalidRequest(param, "cannot fetch media %s: %v", shown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, llm.InvalidRequest(param, "cannot fetch media %s: HTTP %d", shown, resp.StatusCode)
	}
	tooLarge := func() error {
		e := llm.InvalidRequest(param, "media %s is larger than the %d-byte limit", shown, c.maxMedia)
		e.Code = "media_too_large"
		return e
	}
	if resp.ContentLength > c.maxMedia {
		return nil, tooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxMedia+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, llm.FromTransport(ctx, c.name, ctx.Err())
		}
		return nil, llm.InvalidRequest(param, "cannot fetch media %s: %v", shown, err)
	}
	if int64(len(data)) > c.maxMedia {
		return nil, tooLarge()
	}
	mt := ""
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if parsed, _, err := mime.ParseMediaType(ct); err == nil {
			mt = parsed
		}
	}
	if mt == "" || mt == "application/octet-stream" || mt == "binary/octet-stream" || mt == "text/plain" {
		mt = sniffBytes(data)
		if mt == "" {
			if sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(data)); sniffed != "" && sniffed != "application/octet-stream" {
				mt = sniffed
			}
		}
	}
	if mt == "" || mt == "application/octet-stream" {
		mt = m.MediaType
	}
	if image && !strings.HasPrefix(mt, "image/") {
		return nil, llm.InvalidRequest(param, "media %s has type %q, which is not an image gemini can read", shown, mt)
	}
	if !acceptedMedia(mt) {
		return nil, llm.InvalidRequest(param, "media %s has type %q, which gemini cannot read", shown, mt)
	}
	nm := *m
	nm.URL, nm.MediaType, nm.Data = "", mt, base64.StdEncoding.EncodeToString(data)
	return &nm, nil
}

func acceptedMedia(mt string) bool {
	switch {
	case mt == "":
		return false
	case strings.HasPrefix(mt, "image/"), strings.HasPrefix(mt, "video/"), strings.HasPrefix(mt, "audio/"), strings.HasPrefix(mt, "text/"):
		return true
	}
	return mt == "application/pdf" || mt == "application/json"
}

// errPrivateAddress refuses a media fetch to a non-public address.
var errPrivateAddress = errors.New("non-public address")

// mediaClient is the client that fetches media URLs: its dialer refuses
// loopback, private, link-local (cloud metadata), multicast and unspecified
// addresses — checked on the address actually dialled, so DNS tricks and
// redirects cannot reach them — unless allowPrivate. base, when set, lends
// its transport settings (proxy) for tests.
func mediaClient(base *http.Client, allowPrivate bool) *http.Client {
	if allowPrivate && base != nil {
		return base
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !publicAddr(ip) {
				return fmt.Errorf("%w: %s", errPrivateAddress, host)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial for us and bypass the address check
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConns:          16,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

// publicAddr reports whether ip is a public unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() &&
		!cgnat.Contains(ip)
}

// cgnat is the shared address space (RFC 6598), not reachable publicly.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")
