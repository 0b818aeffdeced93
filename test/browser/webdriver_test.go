package browser

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/testtools"
)

// A small W3C WebDriver client for chromedriver: enough to open pages,
// fill in and submit forms, read the page and take screenshots.

const chromium = "/usr/bin/chromium"

// browser is one WebDriver session of a headless Chromium.
type browser struct {
	t       *testing.T
	base    string // http://127.0.0.1:PORT/session/ID
	timeout time.Duration
}

// startBrowser runs chromedriver and a headless Chromium with a fresh
// profile until the test ends. It skips when Chromium is not installed
// (fails under CI=true).
func startBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		testtools.Missing(t, "chromium is not installed (apt-get install chromium chromium-driver, or `make test-deps` as root)")
	}
	driver := testtools.Tool(t, "chromedriver")
	addr := testtools.FreePort(t)
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(driver, "--port="+port, "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	root := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		var status struct {
			Value struct{ Ready bool } `json:"value"`
		}
		if err := call(http.MethodGet, root+"/status", nil, &status); err == nil && status.Value.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("chromedriver did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":         "chrome",
		"acceptInsecureCerts": true,
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--disable-dev-shm-usage", "--window-size=1000,800", "--user-data-dir=" + t.TempDir()},
		},
	}}}
	var created struct {
		Value struct {
			SessionID string `json:"sessionId"`
		} `json:"value"`
	}
	if err := call(http.MethodPost, root+"/session", caps, &created); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	b := &browser{t: t, base: root + "/session/" + created.Value.SessionID, timeout: 20 * time.Second}
	t.Cleanup(func() { _ = call(http.MethodDelete, b.base, nil, nil) })
	return b
}

// call sends a WebDriver command and decodes its answer into out.
func call(method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (b *browser) do(method, path string, in, out any) {
	b.t.Helper()
	if err := call(method, b.base+path, in, out); err != nil {
		b.t.Fatal(err)
	}
}

// open loads url and waits for it.
func (b *browser) open(url string) {
	b.t.Helper()
	b.do(http.MethodPost, "/url", map[string]string{"url": url}, nil)
}

// url is the address of the page shown.
func (b *browser) url() string {
	b.t.Helper()
	var v struct{ Value string }
	b.do(http.MethodGet, "/url", nil, &v)
	return v.Value
}

// find returns the element matching a CSS selector, failing when none.
func (b *browser) find(css string) string {
	b.t.Helper()
	id, ok := b.lookup(css)
	if !ok {
		b.t.Fatalf("no %q on %s:\n%s", css, b.url(), b.text("body"))
	}
	return id
}

// lookup returns the element matching a CSS selector, if any.
func (b *browser) lookup(css string) (string, bool) {
	var v struct {
		Value map[string]string `json:"value"`
	}
	if err := call(http.MethodPost, b.base+"/element", map[string]string{"using": "css selector", "value": css}, &v); err != nil {
		return "", false
	}
	for _, id := range v.Value {
		return id, true
	}
	return "", false
}

// type types text into the element.
func (b *browser) typeInto(css, text string) {
	b.t.Helper()
	b.do(http.MethodPost, "/element/"+b.find(css)+"/value", map[string]string{"text": text}, nil)
}

func (b *browser) click(css string) {
	b.t.Helper()
	b.do(http.MethodPost, "/element/"+b.find(css)+"/click", map[string]any{}, nil)
}

// text is the rendered text of the element.
func (b *browser) text(css string) string {
	b.t.Helper()
	id, ok := b.lookup(css)
	if !ok {
		return ""
	}
	var v struct{ Value string }
	b.do(http.MethodGet, "/element/"+id+"/text", nil, &v)
	return v.Value
}

// attr is an attribute of the element.
func (b *browser) attr(css, name string) string {
	b.t.Helper()
	var v struct{ Value *string }
	b.do(http.MethodGet, "/element/"+b.find(css)+"/attribute/"+name, nil, &v)
	if v.Value == nil {
		return ""
	}
	return *v.Value
}

// run executes script in the page (WebDriver scripts are not bound by the
// page's CSP).
func (b *browser) run(script string, args ...any) {
	b.t.Helper()
	if args == nil {
		args = []any{}
	}
	b.do(http.MethodPost, "/execute/sync", map[string]any{"script": script, "args": args}, nil)
}

// waitFor polls until cond holds, failing with what the page shows after
// the browser's timeout.
func (b *browser) waitFor(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(b.timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: the browser shows %s:\n%s", what, b.url(), b.text("body"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the page as a PNG under dir.
func (b *browser) screenshot(dir, name string) {
	b.t.Helper()
	var v struct{ Value string }
	b.do(http.MethodGet, "/screenshot", nil, &v)
	png, err := base64.StdEncoding.DecodeString(v.Value)
	if err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}
