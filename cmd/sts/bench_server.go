package main

import (
	"context"
	"crypto"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/source"
)

type child struct {
	cmd *exec.Cmd
	url string
}

// startServer runs `sts serve` on free loopback ports and waits until ready.
func startServer(dir string, extra ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	listen, metrics := freePort(), freePort()
	cmd := exec.Command(self, append([]string{"serve", "--manifests", dir, "--listen", listen, "--metrics-listen", metrics}, extra...)...)
	logFile, err := os.CreateTemp("", "sts-bench-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, url: "http://" + listen + "/sts"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.stop()
	return nil, fmt.Errorf("the STS did not become ready; its log is in %s", logFile.Name())
}

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	_ = c.cmd.Wait()
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// signingKey is the key the folder's SecurityTokenService signs with.
func signingKey(dir string) (crypto.Signer, error) {
	folder, err := source.NewFolder()
	if err != nil {
		return nil, err
	}
	src := &source.FolderSource{Dir: dir, Folder: folder, Builder: &source.Builder{}, Holder: &policy.Holder{}, Log: logr.Discard()}
	if err := src.Load(); err != nil {
		return nil, err
	}
	return src.Holder.Load().STS.Signing.Signer, nil
}

// prepare builds n copies of r, each with its own timestamp, nonce and
// signature, ahead of sending: the server's CPU per token is measured while
// they are sent, and the client's own work (an RSA signature per X.509 row
// request) would otherwise compete with it for the same cores.
func prepare(r client.Request, n int) ([]client.Prepared, error) {
	out := make([]client.Prepared, n)
	for i := range out {
		r.Now = time.Now()
		p, err := r.Prepare()
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// send sends one prepared request and fails unless the STS answered 200.
func send(hc *http.Client, p client.Prepared) error {
	status, body, err := p.Do(hc)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		_, ferr := client.Token(body)
		return fmt.Errorf("the STS refused the benchmark request (status %d): %v", status, ferr)
	}
	return nil
}

// drive sends the requests from c goroutines and returns each one's latency.
func drive(hc *http.Client, reqs []client.Prepared, c int) ([]time.Duration, time.Duration, error) {
	n := len(reqs)
	latencies := make([]time.Duration, n)
	var next sync.Mutex
	i := 0
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				next.Lock()
				if i >= n || firstErr != nil {
					next.Unlock()
					return
				}
				mine := i
				i++
				next.Unlock()
				t0 := time.Now()
				err := send(hc, reqs[mine])
				latencies[mine] = time.Since(t0)
				if err != nil {
					next.Lock()
					firstErr = err
					next.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return latencies, time.Since(start), firstErr
}
