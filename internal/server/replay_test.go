package server_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestReplayOnAnotherReplicaRefused runs two STS instances sharing one
// Redis server: a digest request accepted by one is refused by the other.
func TestReplayOnAnotherReplicaRefused(t *testing.T) {
	addr := testtools.StartRedis(t, "redis-pw")
	shared := stsManifest(t, "    store:\n      memory: {maxEntries: 100000}\n",
		"    store:\n      redis:\n        address: "+addr+"\n        passwordSecretRef: {name: redis}\n")
	shared["redis.yaml"] = "apiVersion: v1\nkind: Secret\nmetadata: {name: redis}\nstringData: {password: redis-pw}\n"
	first, second := testfixture.StartSTS(t, shared), testfixture.StartSTS(t, shared)

	r := client.Request{Endpoint: first.URL, Username: "dave", Password: "dave-password", Digest: true, AppliesTo: echoService, Now: time.Now()}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	for i, url := range []string{first.URL, second.URL} {
		resp, err := http.Post(url, contentType, bytes.NewReader(envelope))
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(resp.Body)
		resp.Body.Close()
		if i == 0 {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("first replica: status %d\n%s", resp.StatusCode, body.String())
			}
			continue
		}
		expectFault(t, resp.StatusCode, body.Bytes(), "1.2", nsSecExt, "InvalidSecurity", "nonce was already used")
	}
}

// TestReplayStoreDownRefuses: with the shared store unreachable, requests
// that need it are refused rather than let through unchecked.
func TestReplayStoreDownRefuses(t *testing.T) {
	sts := testfixture.StartSTS(t, stsManifest(t, "    store:\n      memory: {maxEntries: 100000}\n",
		"    store:\n      redis: {address: '"+testtools.FreePort(t)+"'}\n"))
	r := client.Request{Endpoint: sts.URL, Username: "dave", Password: "dave-password", Digest: true, AppliesTo: echoService, Now: time.Now()}
	status, body, err := r.Do(http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	expectFault(t, status, body, "1.2", nsTrust13, "RequestFailed", "")
}

// stsManifest is the standalone sample's sts.yaml with one edit, as extra
// manifests for testfixture.StartSTS.
func stsManifest(t testing.TB, old, new string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testtools.RepoRoot(t), "config", "samples", "standalone", "sts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("sts.yaml has no %q to replace", old)
	}
	return map[string]string{"sts.yaml": strings.Replace(string(raw), old, new, 1)}
}

// manifestWithout removes a line that must be there.
func manifestWithout(t testing.TB, manifest, line string) string {
	t.Helper()
	if !strings.Contains(manifest, line) {
		t.Fatalf("manifest has no %q to remove", line)
	}
	return strings.Replace(manifest, line, "", 1)
}

// TestCancelSeenByAnotherReplica: a token cancelled through one replica is
// invalid on another sharing the Redis store.
func TestCancelSeenByAnotherReplica(t *testing.T) {
	addr := testtools.StartRedis(t, "")
	shared := stsManifest(t, "    store:\n      memory: {maxEntries: 100000}\n", "    store:\n      redis: {address: '"+addr+"'}\n")
	key, err := devkeys.NewRSA("shared-sts", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	shared["signing.key.yaml"] = string(key.SecretYAML("dev-sts-signing"))
	first, second := testfixture.StartSTS(t, shared), testfixture.StartSTS(t, shared)

	alice := client.Request{Username: "alice", Password: "alice-password", AppliesTo: echoService}
	token := issue(t, first, alice)
	cancel := alice
	cancel.RequestType, cancel.Target = "Cancel", token
	if body := issueOK(t, first, cancel); !strings.Contains(string(body), "RequestedTokenCancelled") {
		t.Fatalf("no RequestedTokenCancelled in\n%s", body)
	}
	validate := alice
	validate.RequestType, validate.Target, validate.TokenType = "Validate", token, "status"
	doc := parse(t, issueOK(t, second, validate))
	if code := doc.FindElement("//Status/Code"); code == nil || code.Text() != nsTrust13+"/status/invalid" {
		t.Fatalf("the other replica says %v, want invalid", code)
	}
}

// TestReplayRefusedByDefault: with no replayDetection settings at all, a
// captured PasswordDigest request replayed within the freshness window is
// refused (signed messages: TestX509SignedRequestFreshness).
func TestReplayRefusedByDefault(t *testing.T) {
	manifests := stsManifest(t, "  # Replays are always refused; replayDetection picks where records are kept.\n  replayDetection:\n    store:\n      memory: {maxEntries: 100000}\n", "")
	sts := testfixture.StartSTS(t, manifests)
	r := client.Request{Endpoint: sts.URL, Username: "dave", Password: "dave-password", Digest: true, AppliesTo: echoService, Now: time.Now()}
	envelope, contentType, err := r.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, sts.URL, contentType, envelope); status != http.StatusOK {
		t.Fatalf("first use: status %d\n%s", status, body)
	}
	status, body := post(t, sts.URL, contentType, envelope)
	expectFault(t, status, body, "1.2", nsSecExt, "InvalidSecurity", "nonce was already used")
}
