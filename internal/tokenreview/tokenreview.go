// Package tokenreview asks a trusted issuer's HTTPS webhook whether a
// custom token is valid and whom it names, the way the Kubernetes API
// server asks a webhook token authenticator: one JSON TokenReview posted,
// one JSON answer read. Every failure to get a clear answer is an error,
// so the caller refuses the token.
package tokenreview

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// APIVersion and Kind name the JSON documents exchanged.
const (
	APIVersion = "sts.trustbroker.io/v1alpha1"
	Kind       = "TokenReview"
)

// Bounds on an answer, whatever the webhook sends.
const (
	// MaxResponseBytes is the most of a response body that is read; a
	// longer body is an error.
	MaxResponseBytes = 64 << 10
	maxAttributes    = 256
	maxValues        = 1024 // over all attributes
	maxValueBytes    = 4096
)

// Request is what the STS posts.
type Request struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// TokenType is the custom token type URI.
	TokenType string `json:"tokenType"`
	// Token is the token element as XML (base64 in JSON), declaring every
	// namespace it uses.
	Token []byte `json:"token"`
	// Usage is what the token is presented for: OnBehalfOf, ActAs or
	// Validate.
	Usage string `json:"usage,omitempty"`
	// Audiences name this STS (its issuer name and endpoint), so that the
	// webhook can check the token was meant for it.
	Audiences []string `json:"audiences,omitempty"`
}

// Response is the webhook's answer.
type Response struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	// Authenticated is true when the token is valid.
	Authenticated bool `json:"authenticated"`
	// Subject names whom the token is for (the issued token's NameID).
	Subject string `json:"subject,omitempty"`
	// Attributes become the subject's attributes, by name (a URI, as SAML
	// 2.0 names them).
	Attributes map[string][]string `json:"attributes,omitempty"`
	// Expires is when the token stops being valid (RFC 3339); nil when the
	// webhook does not say.
	Expires *time.Time `json:"expires,omitempty"`
	// Reason says why a token is not authenticated; it is logged, not
	// shown to the requestor.
	Reason string `json:"reason,omitempty"`
}

// Config is one webhook.
type Config struct {
	// URL must be https.
	URL string
	// CAs verify the webhook's certificate; empty trusts the system roots.
	CAs []*x509.Certificate
	// Timeout bounds one review, connection included.
	Timeout time.Duration
}

// Client reviews tokens with one webhook. It is safe for concurrent use
// and keeps connections to the webhook open between reviews.
type Client struct {
	url     string
	timeout time.Duration
	hc      *http.Client
}

// New checks cfg and makes a client for it.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("tokenreview: webhook URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, errors.New("tokenreview: the webhook URL must be https://host/... without user credentials")
	}
	if cfg.Timeout <= 0 {
		return nil, errors.New("tokenreview: the webhook needs a timeout")
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.CAs) > 0 {
		tlsConfig.RootCAs = x509.NewCertPool()
		for _, c := range cfg.CAs {
			tlsConfig.RootCAs.AddCert(c)
		}
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Client{
		url:     cfg.URL,
		timeout: cfg.Timeout,
		hc: &http.Client{
			Transport: transport,
			// A redirect could lead the token anywhere: it is answered as
			// the error status it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Close drops the client's idle connections; it stays usable.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Review posts req and returns the webhook's answer. An answer that says
// the token is not authenticated is no error; anything else that is not a
// well-formed answer (no connection, a timeout, a TLS failure, a status
// other than 2xx, a body too long or not the JSON expected, an
// authenticated answer without a subject) is an error. Errors never quote
// the token or the response body.
func (c *Client) Review(ctx context.Context, req Request) (*Response, error) {
	req.APIVersion, req.Kind = APIVersion, Kind
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("tokenreview: encoding the review: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tokenreview: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("tokenreview: posting to the webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a little so the connection can be reused; the body is not
		// read further or quoted.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("tokenreview: the webhook answered HTTP status %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("tokenreview: reading the answer: %w", err)
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("tokenreview: the answer is longer than %d bytes", MaxResponseBytes)
	}
	var out Response
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("tokenreview: the answer is not a TokenReview: %w", jsonError(err))
	}
	if err := out.check(); err != nil {
		return nil, err
	}
	return &out, nil
}

// check refuses an answer that is not one the STS can act on.
func (r *Response) check() error {
	if r.APIVersion != "" && r.APIVersion != APIVersion || r.Kind != "" && r.Kind != Kind {
		return fmt.Errorf("tokenreview: the answer is not a %s %s", APIVersion, Kind)
	}
	if !r.Authenticated {
		return nil
	}
	if strings.TrimSpace(r.Subject) == "" || len(r.Subject) > maxValueBytes {
		return errors.New("tokenreview: an authenticated answer must name a subject of at most 4096 bytes")
	}
	if len(r.Attributes) > maxAttributes {
		return fmt.Errorf("tokenreview: the answer has %d attributes, at most %d are accepted", len(r.Attributes), maxAttributes)
	}
	values := 0
	for name, vs := range r.Attributes {
		if strings.TrimSpace(name) == "" || len(name) > maxValueBytes {
			return errors.New("tokenreview: the answer has an attribute without a usable name")
		}
		values += len(vs)
		for _, v := range vs {
			if len(v) > maxValueBytes {
				return fmt.Errorf("tokenreview: attribute %.100q has a value longer than %d bytes", name, maxValueBytes)
			}
		}
	}
	if values > maxValues {
		return fmt.Errorf("tokenreview: the answer has %d attribute values, at most %d are accepted", values, maxValues)
	}
	return nil
}

// jsonError keeps the kind and position of a decoding error and drops any
// text of the body it may quote.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q has the wrong type (%s where %s is expected)", typ.Field, typ.Value, typ.Type)
	}
	return errors.New("malformed JSON, or a time that is not RFC 3339")
}
