package stackops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"syscall"
	"time"
)

// DefaultProbeTimeout bounds one HTTP probe when the config sets none.
const DefaultProbeTimeout = 2 * time.Second

// ProbeConfig is one HTTP health URL for a service, from
//
//	x-stackpilot:
//	  probes:
//	    api: http://127.0.0.1:8081/health          # short form
//	    web: {url: "http://127.0.0.1:8080/", timeout: 1s}
//
// A probe passes when the URL answers 2xx within the timeout.
type ProbeConfig struct {
	URL     string   `json:"url"`
	Timeout Duration `json:"timeout,omitempty"`
}

// UnmarshalJSON accepts the short form (a URL string) and the long form.
func (p *ProbeConfig) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		p.URL = s
		return nil
	}
	type plain ProbeConfig
	var v plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*p = ProbeConfig(v)
	return nil
}

// ProbeResult is the outcome of one HTTP probe.
type ProbeResult struct {
	URL        string  `json:"url"`
	OK         bool    `json:"ok"`
	StatusCode int     `json:"status_code,omitempty"`
	Error      string  `json:"error,omitempty"`
	LatencyMS  float64 `json:"latency_ms"`
}

// Probes returns the configured probes, validated against the model.
func (s *Stack) Probes() (map[string]ProbeConfig, error) {
	probes := map[string]ProbeConfig{}
	if err := s.config.Section("probes", &probes); err != nil {
		return nil, err
	}
	var names []string
	for name := range probes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := probes[name]
		if _, ok := s.Project.Services[name]; !ok {
			if _, disabled := s.Project.DisabledServices[name]; disabled {
				delete(probes, name)
				continue
			}
			return nil, fmt.Errorf("%w: %s.probes: %v", ErrInvalidConfig, ConfigExtension, &UnknownServiceError{Name: name, Valid: s.ServiceNames()})
		}
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: %s.probes.%s: %q is not an http(s) URL", ErrInvalidConfig, ConfigExtension, name, p.URL)
		}
	}
	return probes, nil
}

// probeHTTP checks one URL. It never returns an error: a failure is a result.
func probeHTTP(ctx context.Context, pr *prober, p ProbeConfig) *ProbeResult {
	res := &ProbeResult{URL: p.URL}
	timeout := p.Timeout.Or(DefaultProbeTimeout)
	client, failed := pr.client(ctx, p.URL)
	if client == nil {
		res.Error = failed
		return res
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	req.Header.Set("User-Agent", "stackpilot-probe")
	resp, err := client.Do(req)
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		res.Error = describeProbeError(err, timeout)
		return res
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	res.StatusCode = resp.StatusCode
	res.OK = resp.StatusCode >= 200 && resp.StatusCode <= 299
	if !res.OK {
		res.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return res
}

func describeProbeError(err error, timeout time.Duration) string {
	var nerr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}

// runProbes probes the given services' URLs concurrently, from where the
// stack runs (probe_remote.go).
func (s *Stack) runProbes(ctx context.Context, probes map[string]ProbeConfig, services []string) map[string]*ProbeResult {
	out := map[string]*ProbeResult{}
	wanted := false
	for _, svc := range services {
		_, ok := probes[svc]
		wanted = wanted || ok
	}
	if !wanted {
		return out
	}
	client := s.probeClient()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, svc := range services {
		p, ok := probes[svc]
		if !ok {
			continue
		}
		wg.Add(1)
		go func(svc string, p ProbeConfig) {
			defer wg.Done()
			var r *ProbeResult
			if client != nil {
				r = probeHTTP(ctx, client, p)
			} else {
				r = s.probeFromServer(ctx, svc, p)
			}
			mu.Lock()
			out[svc] = r
			mu.Unlock()
		}(svc, p)
	}
	wg.Wait()
	return out
}
