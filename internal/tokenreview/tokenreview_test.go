package tokenreview

import (
	"strings"
	"testing"
	"time"
)

// TestNewRefusesUnsafeWebhooks: a token never goes over plain HTTP, to a
// URL with credentials, or without a bound on the wait.
func TestNewRefusesUnsafeWebhooks(t *testing.T) {
	for name, cfg := range map[string]Config{
		"http":        {URL: "http://review.example/", Timeout: time.Second},
		"credentials": {URL: "https://u:p@review.example/", Timeout: time.Second},
		"no host":     {URL: "https:///review", Timeout: time.Second},
		"no timeout":  {URL: "https://review.example/"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := New(cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := New(Config{URL: "https://review.example/tokens", Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
}

// TestResponseBounds: an authenticated answer must name a subject, and
// attribute names and values are bounded.
func TestResponseBounds(t *testing.T) {
	many := map[string][]string{}
	for i := 0; i <= maxAttributes; i++ {
		many[strings.Repeat("a", i+1)] = []string{"v"}
	}
	for name, tc := range map[string]struct {
		r    Response
		want string
	}{
		"refusal":          {Response{Reason: "expired"}, ""},
		"no subject":       {Response{Authenticated: true}, "must name a subject"},
		"empty name":       {Response{Authenticated: true, Subject: "erin", Attributes: map[string][]string{" ": {"v"}}}, "without a usable name"},
		"long value":       {Response{Authenticated: true, Subject: "erin", Attributes: map[string][]string{"n": {strings.Repeat("x", maxValueBytes+1)}}}, "longer than"},
		"many attributes":  {Response{Authenticated: true, Subject: "erin", Attributes: many}, "at most 256"},
		"another apiGroup": {Response{APIVersion: "authentication.k8s.io/v1", Authenticated: true, Subject: "erin"}, "is not a"},
		"good":             {Response{APIVersion: APIVersion, Kind: Kind, Authenticated: true, Subject: "erin", Attributes: map[string][]string{"mail": {"erin@example.com"}}}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.r.check()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
