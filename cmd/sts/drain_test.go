package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/testfixture"
	"github.com/trustbroker/trustbroker/internal/testtools"
)

// TestMain lets a test run this binary as the sts command itself (see
// startServe), so that it can be sent a real SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("STS_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestGracefulDrain drives 16 keep-alive clients through a SIGTERM, as a
// rolling update does: /readyz turns unready at once, every request sent
// within --shutdown-delay is answered (with Connection: close, so clients
// move on), and the process then exits cleanly.
func TestGracefulDrain(t *testing.T) {
	const clients, delay = 16, 3 * time.Second
	dir := testfixture.StartSTS(t, nil).Dir // a manifests folder with a signing key
	listen, metrics := testtools.FreePort(t), testtools.FreePort(t)
	cmd := exec.Command(os.Args[0], "serve", "--manifests", dir, "--listen", listen, "--metrics-listen", metrics, "--shutdown-delay", delay.String())
	cmd.Env = append(os.Environ(), "STS_TEST_RUN_MAIN=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	readyz := func() int {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for start := time.Now(); readyz() != http.StatusOK; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("not ready:\n%s", logs.String())
		}
	}

	endpoint := "http://" + listen + "/sts"
	envelope, contentType, err := client.Request{Endpoint: endpoint, Username: "alice", Password: "alice-password", AppliesTo: "urn:example:portal", Now: time.Now()}.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	var term atomic.Int64 // UnixNano of the SIGTERM, 0 before
	var sent, failed, closed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := hc.Post(endpoint, contentType, bytes.NewReader(envelope))
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					t.Logf("request failed: %v", err)
					continue
				}
				_, _ = bytes.NewBuffer(nil).ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if term.Load() != 0 && resp.Close {
					closed.Add(1)
				}
			}
		}()
	}

	for start := time.Now(); sent.Load() < 2*clients; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("only %d requests answered before SIGTERM", sent.Load())
		}
	}
	before := sent.Load()
	term.Store(time.Now().UnixNano())
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after SIGTERM: %d, want 503", code)
	}
	// Stop sending a little before the delay ends: what is sent inside it
	// must all be answered.
	time.Sleep(delay - 200*time.Millisecond - 500*time.Millisecond)
	close(stop)
	wg.Wait()

	if sent.Load() == before {
		t.Fatal("no request was sent after SIGTERM: the test proves nothing")
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d requests failed inside the shutdown delay\n%s", n, sent.Load(), logs.String())
	}
	if closed.Load() == 0 {
		t.Error("no answer after SIGTERM asked the client to close its connection")
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after draining: %v\n%s", err, logs.String())
		}
	case <-time.After(delay + 10*time.Second):
		t.Fatalf("still running long after the shutdown delay\n%s", logs.String())
	}
}
