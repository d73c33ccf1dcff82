package engine

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

// PushImage pushes repo:tag from the engine to its registry and returns when
// the push finished. The engine reports a failure inside the 200 stream
// (errorDetail), which comes back as the error. Credentials are the
// registry's anonymous access: the header the API requires, empty.
func (c *Client) PushImage(ctx context.Context, repo, tag string) error {
	auth := base64.URLEncoding.EncodeToString([]byte("{}"))
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/images/" + repo + "/push",
		query: url.Values{"tag": {tag}}, headers: map[string]string{"X-Registry-Auth": auth}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
	return sc.Err()
}

// DistributionInspect asks the engine to look ref up in its registry (the
// engine does the network request, from its machine): nil when the
// registry has it; the registry's or the network's error otherwise.
func (c *Client) DistributionInspect(ctx context.Context, ref string) error {
	auth := base64.URLEncoding.EncodeToString([]byte("{}"))
	return c.getJSON(ctx, request{path: "/distribution/" + ref + "/json", headers: map[string]string{"X-Registry-Auth": auth}}, nil)
}
