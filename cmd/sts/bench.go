package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/source"
)

// bench starts the STS on a manifests folder in a child process, drives it
// with concurrent keep-alive clients, and reports per kind of request the
// throughput, latency and the server's CPU time per token beside the CPU
// time of one bare signature with the same key, measured in the same run.
// The X.509 row signs every request with a client certificate that bench
// registers in a copy of the folder.
func bench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	manifests := fs.String("manifests", "config/samples/standalone", "the manifests folder the STS serves")
	requests := fs.Int("requests", 2000, "number of token requests per row")
	concurrency := fs.Int("concurrency", 4, "concurrent clients")
	var r client.Request
	fs.StringVar(&r.Username, "username", "alice", "user name")
	fs.StringVar(&r.Password, "password", "alice-password", "password")
	fs.StringVar(&r.AppliesTo, "applies-to", "https://localhost:9444/services/echo", "AppliesTo of the UsernameToken requests")
	x509AppliesTo := fs.String("x509-applies-to", "urn:example:portal", "AppliesTo of the X.509-signed requests (empty skips that row)")
	fs.StringVar(&r.TokenType, "token-type", "saml2", "saml2 or saml1")
	_ = fs.Parse(args)

	dir, caller, err := benchFolder(*manifests)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key, err := signingKey(dir)
	if err != nil {
		return err
	}
	// The flood row sends its attackers from many addresses, through
	// X-Forwarded-For, as a spraying botnet would.
	srv, err := startServer(dir, "--trusted-proxies", "127.0.0.1")
	if err != nil {
		return err
	}
	defer srv.stop()
	r.Endpoint = srv.url
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}, Timeout: 30 * time.Second}

	signed := r
	signed.Username, signed.Password, signed.AppliesTo = "", "", *x509AppliesTo
	signed.SigningKey, signed.SigningCert = caller.Key, caller.Cert
	rows := []struct {
		name string
		req  client.Request
	}{{"UsernameToken, SAML bearer", r}}
	if *x509AppliesTo != "" {
		rows = append(rows, struct {
			name string
			req  client.Request
		}{"X.509-signed, SAML bearer", signed})
	}

	perSignature, err := signatureCPU(key, 200)
	if err != nil {
		return err
	}
	fmt.Printf("%d requests per row, %d concurrent, keep-alive; one bare signature with the same key: %v CPU\n\n",
		*requests, *concurrency, perSignature.Round(time.Microsecond))
	fmt.Printf("%-46s %10s %10s %10s %14s %8s\n", "request", "tokens/s", "p50", "p99", "CPU/token", "ratio")
	var undisturbed float64
	for _, row := range rows {
		// Warm up: the first request pays bcrypt once; the cache serves the rest.
		if err := once(hc, row.req); err != nil {
			return fmt.Errorf("%s: %w", row.name, err)
		}
		before, err := processCPU(srv.cmd.Process.Pid)
		if err != nil {
			return err
		}
		latencies, elapsed, err := drive(hc, row.req, *requests, *concurrency)
		if err != nil {
			return fmt.Errorf("%s: %w", row.name, err)
		}
		after, err := processCPU(srv.cmd.Process.Pid)
		if err != nil {
			return err
		}
		perToken := (after - before) / time.Duration(*requests)
		printRow(row.name, latencies, elapsed, perToken, perSignature)
		if undisturbed == 0 {
			undisturbed = float64(*requests) / elapsed.Seconds()
		}
	}
	return floodRow(hc, r, srv.url, *requests, *concurrency, undisturbed)
}

// floodAttackers is how many clients send wrong passwords in the flood row.
const floodAttackers = 32

// floodRow measures the legitimate user's tokens/s while floodAttackers
// clients spray wrong passwords over random user names from random
// addresses (each attempt a fresh hash comparison that no lockout or
// failure cache can spare), beside the undisturbed figure.
func floodRow(hc *http.Client, r client.Request, url string, requests, concurrency int, undisturbed float64) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	attacker := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: floodAttackers}, Timeout: 30 * time.Second}
	for i := range floodAttackers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				guess := client.Request{Endpoint: url, Username: fmt.Sprintf("spray-%d-%d", i, n), Password: fmt.Sprintf("guess-%d", n), AppliesTo: r.AppliesTo, Now: time.Now()}
				envelope, contentType, err := guess.Envelope()
				if err != nil {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(envelope)))
				req.Header.Set("Content-Type", contentType)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.18.%d.%d", i, n%250+1))
				if resp, err := attacker.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	time.Sleep(time.Second) // the flood is under way
	n := max(requests/10, 50)
	latencies, elapsed, err := drive(hc, r, n, concurrency)
	close(stop)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("%d clients with wrong passwords: %w", floodAttackers, err)
	}
	name := fmt.Sprintf("UsernameToken, %d clients with wrong passwords", floodAttackers)
	slices.Sort(latencies)
	rate := float64(n) / elapsed.Seconds()
	fmt.Printf("%-46s %10.0f %10v %10v %14s %8s   %.0f%% of the undisturbed tokens/s\n", name, rate,
		latencies[len(latencies)/2].Round(10*time.Microsecond), latencies[len(latencies)*99/100].Round(10*time.Microsecond), "-", "-", 100*rate/undisturbed)
	return nil
}

// printRow prints one measured row.
func printRow(name string, latencies []time.Duration, elapsed, perToken, perSignature time.Duration) {
	slices.Sort(latencies)
	fmt.Printf("%-46s %10.0f %10v %10v %14v %8.2f\n", name, float64(len(latencies))/elapsed.Seconds(),
		latencies[len(latencies)/2].Round(10*time.Microsecond), latencies[len(latencies)*99/100].Round(10*time.Microsecond),
		perToken.Round(time.Microsecond), float64(perToken)/float64(perSignature))
}

// benchFolder writes the manifests folder's objects into a new folder,
// with a fresh client certificate registered with the SecurityTokenService
// (X.509 authentication on, no role requirement), so that signed requests
// can be measured on any folder.
func benchFolder(src string) (string, *devkeys.Pair, error) {
	folder, err := source.NewFolder()
	if err != nil {
		return "", nil, err
	}
	objs, err := folder.Read(src)
	if err != nil {
		return "", nil, err
	}
	if len(objs.SecurityTokenServices) != 1 {
		return "", nil, fmt.Errorf("%s holds %d SecurityTokenServices; bench needs one", src, len(objs.SecurityTokenServices))
	}
	caller, err := devkeys.NewRSA("bench-client", time.Now(), 24*time.Hour)
	if err != nil {
		return "", nil, err
	}
	sts := objs.SecurityTokenServices[0]
	sts.Spec.Authentication.AllowedRoles = nil
	sts.Spec.Authentication.X509 = &stsv1alpha1.X509Spec{Enabled: true,
		ClientCertificates: &stsv1alpha1.CertificateSource{PEM: string(caller.CertPEM)}}

	dir, err := os.MkdirTemp("", "sts-bench-")
	if err != nil {
		return "", nil, err
	}
	write := func(kind string, gv string, obj interface {
		GetName() string
		GetObjectKind() schema.ObjectKind
	}) error {
		obj.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(gv, kind))
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, strings.ToLower(kind)+"-"+obj.GetName()+".yaml"), data, 0o600)
	}
	gv := stsv1alpha1.GroupVersion.String()
	var errs []error
	errs = append(errs, write("SecurityTokenService", gv, sts))
	for _, o := range objs.RelyingParties {
		errs = append(errs, write("RelyingParty", gv, o))
	}
	for _, o := range objs.TrustedIssuers {
		errs = append(errs, write("TrustedIssuer", gv, o))
	}
	for _, o := range objs.Secrets {
		errs = append(errs, write("Secret", "v1", o))
	}
	for _, o := range objs.ConfigMaps {
		errs = append(errs, write("ConfigMap", "v1", o))
	}
	if err := errors.Join(errs...); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, caller, nil
}

func once(hc *http.Client, r client.Request) error {
	r.Now = time.Now()
	status, body, err := r.Do(hc)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		_, ferr := client.Token(body)
		return fmt.Errorf("the STS refused the benchmark request (status %d): %v", status, ferr)
	}
	return nil
}

// drive sends n requests from c goroutines and returns each one's latency.
func drive(hc *http.Client, r client.Request, n, c int) ([]time.Duration, time.Duration, error) {
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
				err := once(hc, r)
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

// signatureCPU is the CPU time of one PKCS#1 v1.5 SHA-256 signature with key
// (ECDSA for EC keys), measured over n signatures on this goroutine.
func signatureCPU(key crypto.Signer, n int) (time.Duration, error) {
	digest := sha256.Sum256([]byte("trustbroker"))
	before, err := processCPU(os.Getpid())
	if err != nil {
		return 0, err
	}
	for range n {
		if _, err := key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			return 0, err
		}
	}
	after, err := processCPU(os.Getpid())
	return (after - before) / time.Duration(n), err
}

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

// processCPU is a process's user+system CPU time from /proc.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	end := strings.LastIndexByte(string(data), ')')
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, nil
}
