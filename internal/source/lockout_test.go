package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/policy"
)

// TestLockoutSettings: spec.authentication.lockout reaches the policy, with
// the schema's default window, and a window over 24h is refused with the
// schema's message.
func TestLockoutSettings(t *testing.T) {
	for _, tc := range []struct {
		name, lockout string
		want          policy.Lockout
		wantErr       string
	}{
		{"absent", "", policy.Lockout{}, ""},
		{"as in the samples", "    lockout: {threshold: 10, window: 15m}\n", policy.Lockout{Threshold: 10, Window: 15 * time.Minute}, ""},
		{"threshold only", "    lockout: {threshold: 5}\n", policy.Lockout{Threshold: 5, Window: 15 * time.Minute}, ""},
		{"both", "    lockout: {threshold: 3, window: 1h}\n", policy.Lockout{Threshold: 3, Window: time.Hour}, ""},
		{"window too long", "    lockout: {threshold: 3, window: 25h}\n", policy.Lockout{}, "lockout.window must be a duration such as 15m"},
		{"negative threshold", "    lockout: {threshold: -1}\n", policy.Lockout{}, "spec.authentication.lockout.threshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := standaloneFolder(t)
			raw, err := os.ReadFile(filepath.Join(dir, "sts.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			const anchor = "    lockout: {threshold: 10, window: 15m}   # extranet lockout per user and per client address\n"
			if !strings.Contains(string(raw), anchor) {
				t.Fatalf("sts.yaml has no %q", anchor)
			}
			writeFile(t, dir, "sts.yaml", strings.Replace(string(raw), anchor, tc.lockout, 1))
			s := newSource(t, dir)
			err = s.Load()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Holder.Load().STS.Lockout; got != tc.want {
				t.Errorf("lockout = %+v, want %+v", got, tc.want)
			}
		})
	}
}
