package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trustbroker/trustbroker/internal/client"
	"github.com/trustbroker/trustbroker/internal/devkeys"
	"github.com/trustbroker/trustbroker/internal/source"
)

// bench starts the STS on a manifests folder in a child process, drives it
// with concurrent keep-alive clients, and reports per kind of request the
// throughput, latency and the server's CPU time per token beside bare
// signatures measured in the same run: with the same key in this process
// (between the chunks of each row, so both see the same machine), with
// OpenSSL, and in builds with PKCS#11 support through the token's module.
// The X.509 row signs every request with a client certificate that bench
// registers in a copy of the folder; the ECDSA row serves a copy with a
// P-256 signing key.
func bench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	manifests := fs.String("manifests", "config/samples/standalone", "the manifests folder the STS serves")
	requests := fs.Int("requests", 2000, "number of token requests per row")
	concurrency := fs.Int("concurrency", 4, "concurrent clients")
	chunks := fs.Int("chunks", 20, "each row's requests go in this many chunks, with bare signatures measured between them")
	warmup := fs.Int("warmup", 1500, "requests each row sends before it measures: a new server's heap first grows to its collection target (--gc-headroom-mib), touching fresh memory that later requests reuse")
	var r client.Request
	fs.StringVar(&r.Username, "username", "alice", "user name")
	fs.StringVar(&r.Password, "password", "alice-password", "password")
	fs.StringVar(&r.AppliesTo, "applies-to", "https://localhost:9444/services/echo", "AppliesTo of the UsernameToken requests")
	x509AppliesTo := fs.String("x509-applies-to", "urn:example:portal", "AppliesTo of the X.509-signed requests (empty skips that row)")
	fs.StringVar(&r.TokenType, "token-type", "saml2", "saml2 or saml1")
	cpuProfile := fs.String("cpu-profile", "", "have the STS write a CPU profile (go tool pprof) of the whole run to this file, and the servers of the ECDSA and PKCS#11 rows to this file with .ecdsa and .pkcs11 appended")
	serveFlags := fs.String("serve-flags", "", "more flags for every `sts serve` bench starts, space-separated (to compare settings such as --gc-headroom-mib)")
	hsm := addHSMFlags(fs)
	_ = fs.Parse(args)

	caller, err := devkeys.NewRSA("bench-client", time.Now(), 24*time.Hour)
	if err != nil {
		return err
	}
	b := &benchRun{manifests: *manifests, caller: caller, serveFlags: strings.Fields(*serveFlags), cpuProfile: *cpuProfile}
	defer b.stop()
	// The flood row sends its attackers from many addresses, through
	// X-Forwarded-For, as a spraying botnet would.
	main, key, err := b.start(nil, append(b.profileArgs(""), "--trusted-proxies", "127.0.0.1")...)
	if err != nil {
		return err
	}
	goSig := signerFloor("x Go sig", "Go "+keyName(key), key)
	floors := []*floor{goSig}
	ossl := opensslFloor()
	if ossl != nil {
		floors = append(floors, ossl)
	}
	signed := r
	signed.Username, signed.Password, signed.AppliesTo = "", "", *x509AppliesTo
	signed.SigningKey, signed.SigningCert = caller.Key, caller.Cert
	rows := []*benchRow{{name: "UsernameToken, SAML bearer", req: r, srv: main, floors: floors, goFloor: goSig}}
	if *x509AppliesTo != "" {
		rows = append(rows, &benchRow{name: "X.509-signed, SAML bearer", req: signed, srv: main, floors: floors, goFloor: goSig})
	}

	var ec *devkeys.Pair
	ecSrv, _, err := b.start(withECDSAKey(&ec), b.profileArgs(".ecdsa")...)
	if err != nil {
		return fmt.Errorf("ECDSA signing key: %w", err)
	}
	ecSig := signerFloor("x Go sig", "Go ECDSA P-256", ec.Signer)
	rows = append(rows, &benchRow{name: "UsernameToken, SAML bearer, ECDSA P-256", req: r, srv: ecSrv, floors: []*floor{ecSig}, goFloor: ecSig})

	hsmRows, hsmFloor, err := hsm.rows(b, r, signed, floors)
	if err != nil {
		return fmt.Errorf("PKCS#11: %w", err)
	}
	rows = append(rows, hsmRows...)
	columns := []string{goSig.column}
	if hsmFloor != nil {
		columns = append(columns, hsmFloor.column)
	}
	if ossl != nil {
		columns = append(columns, ossl.column)
		if _, err := ossl.measure(1); err != nil {
			return err
		}
	}

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}, Timeout: 30 * time.Second}
	for _, row := range rows {
		r := row.req
		r.Endpoint = row.srv.url
		if err := row.run(hc, r, *warmup, *requests, *concurrency, *chunks); err != nil {
			return fmt.Errorf("%s: %w", row.name, err)
		}
	}
	if ossl != nil {
		if _, err := ossl.measure(1); err != nil {
			return err
		}
	}

	fmt.Printf("%d requests per row in %d chunks, %d concurrent, keep-alive; figures are medians over the chunks.\nBare signatures in the same run (CPU each):\n", *requests, *chunks, *concurrency)
	shown := append(floors, ecSig)
	if hsmFloor != nil {
		shown = append(shown, hsmFloor)
	}
	for _, f := range shown {
		fmt.Printf("  %-40s %10v\n", f.name, f.perSignature().Round(time.Microsecond))
	}
	fmt.Printf("\n%-46s %10s %10s %10s %12s", "request", "tokens/s", "p50", "p99", "CPU/token")
	for _, c := range columns {
		fmt.Printf(" %10s", c)
	}
	fmt.Println()
	for _, row := range rows {
		row.print(columns)
	}
	r.Endpoint = main.url
	return floodRow(hc, r, *requests, *concurrency, rows[0].rate(), len(columns))
}

// benchRun holds the servers a bench run started.
type benchRun struct {
	manifests  string
	caller     *devkeys.Pair
	serveFlags []string
	cpuProfile string // "" for none
	servers    []*child
	dirs       []string
}

// profileArgs has a server write a CPU profile to the run's profile file
// with suffix appended: one file per server.
func (b *benchRun) profileArgs(suffix string) []string {
	if b.cpuProfile == "" {
		return nil
	}
	return []string{"--cpu-profile", b.cpuProfile + suffix}
}

// start serves a copy of the manifests folder, changed by edit, and returns
// the server and its signing key.
func (b *benchRun) start(edit func(*source.Objects) error, serveArgs ...string) (*child, crypto.Signer, error) {
	dir, err := benchFolder(b.manifests, b.caller, edit)
	if err != nil {
		return nil, nil, err
	}
	b.dirs = append(b.dirs, dir)
	key, err := signingKey(dir)
	if err != nil {
		return nil, nil, err
	}
	srv, err := startServer(dir, append(serveArgs, b.serveFlags...)...)
	if err != nil {
		return nil, nil, err
	}
	b.servers = append(b.servers, srv)
	return srv, key, nil
}

func (b *benchRun) stop() {
	for _, s := range b.servers {
		s.stop()
	}
	for _, d := range b.dirs {
		os.RemoveAll(d)
	}
}

// keyName names a signing key's kind for the bare signature's row.
func keyName(key crypto.Signer) string {
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", key.Public())
}

// A benchRow is one kind of request, measured against the bare signatures
// of its key (floors, by ratio column).
type benchRow struct {
	name    string
	req     client.Request
	srv     *child
	floors  []*floor
	goFloor *floor // the ratio column "x Go sig": the same key in Go, or the Go signature of the same kind

	latencies []time.Duration
	elapsed   time.Duration
	perToken  []time.Duration      // server CPU per token, one per chunk
	ratios    map[*floor][]float64 // per chunk, to the floor measured right after it
}

// run sends warmup requests, then the row's requests in chunks, measuring
// the bare signatures in this process between them.
func (row *benchRow) run(hc *http.Client, r client.Request, warmup, requests, concurrency, chunks int) error {
	// Warm up, unmeasured: the first request pays bcrypt once (the cache
	// serves the rest), and the server's heap reaches its steady state.
	warm, err := prepare(r, max(1, warmup))
	if err != nil {
		return err
	}
	if _, _, err := drive(hc, warm, concurrency); err != nil {
		return err
	}
	chunks = max(1, min(chunks, requests))
	for i := range chunks {
		n := requests / chunks
		if i == chunks-1 {
			n = requests - n*(chunks-1)
		}
		reqs, err := prepare(r, n)
		if err != nil {
			return err
		}
		before, err := processCPU(row.srv.cmd.Process.Pid)
		if err != nil {
			return err
		}
		latencies, elapsed, err := drive(hc, reqs, concurrency)
		if err != nil {
			return err
		}
		after, err := processCPU(row.srv.cmd.Process.Pid)
		if err != nil {
			return err
		}
		perToken := (after - before) / time.Duration(n)
		row.perToken = append(row.perToken, perToken)
		row.elapsed += elapsed
		row.latencies = append(row.latencies, latencies...)
		for _, f := range row.floors {
			if f.external != nil {
				continue
			}
			sig, err := f.measure(max(10, n/5))
			if err != nil {
				return err
			}
			if row.ratios == nil {
				row.ratios = map[*floor][]float64{}
			}
			row.ratios[f] = append(row.ratios[f], float64(perToken)/float64(sig))
		}
	}
	return nil
}

func (row *benchRow) rate() float64 {
	return float64(len(row.latencies)) / row.elapsed.Seconds()
}

// print prints the row, with its ratio to each bare signature column.
func (row *benchRow) print(columns []string) {
	slices.Sort(row.latencies)
	perToken := median(row.perToken)
	fmt.Printf("%-46s %10.0f %10v %10v %12v", row.name, row.rate(),
		row.latencies[len(row.latencies)/2].Round(10*time.Microsecond), row.latencies[len(row.latencies)*99/100].Round(10*time.Microsecond),
		perToken.Round(time.Microsecond))
	for _, c := range columns {
		f := row.goFloor
		if c != f.column {
			f = nil
			for _, g := range row.floors {
				if g.column == c {
					f = g
				}
			}
		}
		switch {
		case f == nil || f.perSignature() == 0:
			fmt.Printf(" %10s", "-")
		case f.external != nil:
			// Measured by another program before and after the rows.
			fmt.Printf(" %10.2f", float64(perToken)/float64(f.perSignature()))
		default:
			fmt.Printf(" %10.2f", medianRatio(row.ratios[f]))
		}
	}
	fmt.Println()
}

// floodAttackers is how many clients send wrong passwords in the flood row.
const floodAttackers = 32

// floodRow measures the legitimate user's tokens/s while floodAttackers
// clients spray wrong passwords over random user names from random
// addresses (each attempt a fresh hash comparison that no lockout or
// failure cache can spare), beside the undisturbed figure.
func floodRow(hc *http.Client, r client.Request, requests, concurrency int, undisturbed float64, columns int) error {
	reqs, err := prepare(r, max(requests/10, 50))
	if err != nil {
		return err
	}
	url := r.Endpoint
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
	latencies, elapsed, err := drive(hc, reqs, concurrency)
	close(stop)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("%d clients with wrong passwords: %w", floodAttackers, err)
	}
	name := fmt.Sprintf("UsernameToken, %d clients with wrong passwords", floodAttackers)
	slices.Sort(latencies)
	rate := float64(len(reqs)) / elapsed.Seconds()
	fmt.Printf("%-46s %10.0f %10v %10v %12s%s   %.0f%% of the undisturbed tokens/s\n", name, rate,
		latencies[len(latencies)/2].Round(10*time.Microsecond), latencies[len(latencies)*99/100].Round(10*time.Microsecond), "-",
		strings.Repeat(fmt.Sprintf(" %10s", "-"), columns), 100*rate/undisturbed)
	return nil
}
