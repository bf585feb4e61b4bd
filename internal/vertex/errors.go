package vertex

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rickyjim626/xjp/internal/llm"
)

// DecodeError maps a non-2xx answer from Google to an *llm.Error. body is
// Google's envelope {"error": {code, message, status, details}}, or the
// array form [{"error": …}] Vertex uses for streams without alt=sse; other
// bodies (a proxy's HTML page) are kept as text.
//
// Google does not answer auth failures with 401: a bad API key is 400
// INVALID_ARGUMENT with an ErrorInfo reason API_KEY_INVALID, a missing one
// 403. Both are the gateway's credentials, so they become provider_auth,
// never the client's own 400.
func DecodeError(provider string, status int, body []byte) *llm.Error {
	st := parseStatus(body)
	if st == nil {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 512 {
			msg = msg[:512]
			for !utf8.ValidString(msg) {
				msg = msg[:len(msg)-1]
			}
		}
		return llm.FromStatus(provider, status, msg)
	}
	return statusError(provider, status, st)
}

// parseStatus reads Google's error envelope in object or array form.
func parseStatus(body []byte) *Status {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] == '[' {
		var list []ErrorBody
		if json.Unmarshal(body, &list) != nil {
			return nil
		}
		for _, e := range list {
			if e.Error != nil {
				return e.Error
			}
		}
		return nil
	}
	var eb ErrorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == nil {
		return nil
	}
	return eb.Error
}

// errorDetail is the union of the google.rpc detail types xjp reads.
type errorDetail struct {
	Type       string            `json:"@type"`
	Reason     string            `json:"reason"`
	Domain     string            `json:"domain"`
	Metadata   map[string]string `json:"metadata"`
	RetryDelay string            `json:"retryDelay"`
}

// statusError maps a google.rpc.Status. status is the HTTP status (0: use
// st.Code, as for errors inside a 200 stream).
func statusError(provider string, status int, st *Status) *llm.Error {
	if status == 0 {
		status = st.Code
	}
	if status == 0 {
		status = 500
	}
	var reasons []string
	var retry time.Duration
	for _, raw := range st.Details {
		var d errorDetail
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		if d.Reason != "" {
			reasons = append(reasons, d.Reason)
		}
		if strings.HasSuffix(d.Type, "google.rpc.RetryInfo") && d.RetryDelay != "" {
			if dur, err := parseProtoDuration(d.RetryDelay); err == nil {
				retry = dur
			}
		}
	}
	msg := st.Message
	if msg == "" {
		msg = st.Status
	}
	keyInvalid := false
	for _, r := range reasons {
		if r == "API_KEY_INVALID" || r == "API_KEY_SERVICE_BLOCKED" || r == "API_KEY_HTTP_REFERRER_BLOCKED" || r == "API_KEY_IP_ADDRESS_BLOCKED" {
			keyInvalid = true
		}
	}
	if status == 400 && strings.Contains(strings.ToLower(st.Message), "api key not valid") {
		keyInvalid = true
	}

	var e *llm.Error
	switch {
	case keyInvalid || st.Status == "UNAUTHENTICATED" || status == 401 || status == 403:
		e = llm.FromStatus(provider, 401, msg)
		if status != 401 {
			e.Message = fmt.Sprintf("upstream refused the gateway's credentials (HTTP %d %s): %s", status, st.Status, msg)
		}
		e.Code = "invalid_api_key"
	case status == 429 || st.Status == "RESOURCE_EXHAUSTED":
		e = llm.FromStatus(provider, 429, msg)
		e.Code = "rate_limit_exceeded"
	case status == 503 || st.Status == "UNAVAILABLE":
		e = llm.FromStatus(provider, 503, msg)
	case status == 504 || st.Status == "DEADLINE_EXCEEDED":
		e = llm.FromStatus(provider, 504, msg)
	default:
		e = llm.FromStatus(provider, status, msg)
	}
	e.UpstreamStatus = status
	e.UpstreamType = st.Status
	e.RetryAfter = retry
	return e
}

// parseProtoDuration reads a google.protobuf.Duration in JSON form ("32s",
// "1.5s", "0.250s").
func parseProtoDuration(s string) (time.Duration, error) {
	v, ok := strings.CutSuffix(strings.TrimSpace(s), "s")
	if !ok {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}
