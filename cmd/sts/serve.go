package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/trustbroker/trustbroker/internal/issuer"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/server"
	"github.com/trustbroker/trustbroker/internal/source"
	"github.com/trustbroker/trustbroker/internal/userstore"
	"github.com/trustbroker/trustbroker/internal/wssec"
)

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	manifests := fs.String("manifests", "", "serve the STS described by the manifests in this folder, reloading on every change")
	kube := fs.Bool("kube", false, "read the resources from the Kubernetes API (in a cluster)")
	name := fs.String("name", "", "the SecurityTokenService to serve; may be omitted when the folder holds one")
	namespace := fs.String("namespace", "", "the namespace of the SecurityTokenService")
	listen := fs.String("listen", "127.0.0.1:8080", "plain HTTP address of the STS endpoint; empty serves none")
	tlsListen := fs.String("tls-listen", "", "HTTPS address of the STS endpoint, with the serving certificate of spec.tls and TLS client certificates accepted")
	metricsListen := fs.String("metrics-listen", "127.0.0.1:9090", "address of /metrics, /healthz and /readyz")
	var trustedProxies prefixList
	fs.Var(&trustedProxies, "trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For header names the real client (for trustedAddresses and lockout) and whose X-Forwarded-Proto: https marks a request as received over TLS; empty trusts no header")
	shutdownDelay := fs.Duration("shutdown-delay", 5*time.Second, "on SIGTERM, keep serving this long with /readyz failing and Connection: close on every answer, so that load balancers stop sending before the listeners close; then wait for the requests in flight")
	gcHeadroom := fs.Int("gc-headroom-mib", 64, "let the heap grow by at least this many MiB of garbage between collections (GOGC still applies above it); every token allocates some 100-250 KiB that dies with its request, and a small live heap would otherwise be collected every few dozen requests")
	cpuProfile := fs.String("cpu-profile", "", "write a CPU profile (go tool pprof) of the whole run to this file on shutdown")
	allowInsecureADFS := fs.Bool("allow-insecure-adfs-paths", false, "let /adfs/services/trust/*/usernamemixed accept passwords over plain HTTP (tests, or a TLS-terminating proxy not listed in --trusted-proxies); off, they answer only requests that came over TLS")
	_ = fs.Parse(args)
	if *kube == (*manifests != "") {
		return errors.New("give either --manifests DIR or --kube")
	}
	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, nil))
	// The headroom is never written, so it takes address space, not memory;
	// it holds no pointers, so the collector does not scan it.
	headroom := make([]byte, *gcHeadroom<<20)
	defer runtime.KeepAlive(headroom)
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	term, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The policy keeps following its source while the pod drains.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	holder := &policy.Holder{}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reloadErrors := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "trustbroker_policy_reload_errors_total",
		Help: "Configuration changes that could not be loaded (the last good policy stayed in force).",
	})
	registry.MustRegister(reloadErrors)
	builder := &source.Builder{STS: source.Key(*namespace, *name), Passwords: userstore.NewVerifiedCache(userstore.DefaultCacheSize, userstore.DefaultCacheTTL)}
	// waiting says why the policy has not been read yet, if it is known.
	waiting := func() error { return nil }
	if *kube {
		src, err := startKube(ctx, *namespace, *name, builder, holder, reloadErrors, registry, log)
		if err != nil {
			return err
		}
		waiting = src.Waiting
	} else if err := startFolder(ctx, *manifests, builder, holder, reloadErrors, log); err != nil {
		return err
	}

	sts := &server.Server{
		Policy:         holder,
		Issuer:         &issuer.Issuer{Log: log.WithName("issuer")},
		Replay:         &server.ReplayStores{Memory: server.NewMemoryStores(replayEntries(holder), time.Now), Log: log.WithName("replay")},
		Now:            time.Now,
		Log:            log.WithName("sts"),
		Audit:          log.WithName("audit"),
		Metrics:        server.NewMetrics(registry, holder),
		TrustedProxies: trustedProxies,

		AllowInsecureADFSPaths: *allowInsecureADFS,
	}
	metrics := http.NewServeMux()
	metrics.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	metrics.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	var out drain
	metrics.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if out.draining() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		if err := sts.Ready(r.Context()); err != nil {
			if cause := waiting(); cause != nil {
				err = fmt.Errorf("waiting for the API server: %w", cause)
			}
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	newServer := func(addr string, h http.Handler) *http.Server {
		return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: requestTimeout, WriteTimeout: requestTimeout, MaxHeaderBytes: 64 << 10}
	}
	servers := []*http.Server{newServer(*metricsListen, metrics)}
	handler := out.wrap(sts.Handler())
	if *listen != "" {
		servers = append(servers, newServer(*listen, handler))
	}
	if *tlsListen != "" {
		s := newServer(*tlsListen, handler)
		s.TLSConfig = server.TLSConfig(holder)
		servers = append(servers, s)
	}
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if s.TLSConfig != nil {
				errs <- s.ListenAndServeTLS("", "")
				return
			}
			errs <- s.ListenAndServe()
		}()
	}
	log.Info("serving", "http", *listen, "https", *tlsListen, "metrics", *metricsListen)
	var err error
	select {
	case err = <-errs:
	case <-term.Done():
		out.start()
		log.Info("draining: /readyz fails, answers ask clients to close their connections", "shutdownDelay", shutdownDelay.String())
		select {
		case err = <-errs:
		case <-time.After(*shutdownDelay):
		}
	}
	// Requests in flight get as long as a request may take.
	shutdown, done := context.WithTimeout(context.Background(), requestTimeout)
	defer done()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	log.Info("stopped")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// startCPUProfile profiles the process into file until the returned
// function is called.
func startCPUProfile(file string) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// requestTimeout bounds reading a request and writing its answer; on
// shutdown, the requests in flight get as long.
const requestTimeout = 30 * time.Second

// prefixList is a flag of comma-separated CIDRs or addresses.
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	parts := make([]string, len(*p))
	for i, x := range *p {
		parts[i] = x.String()
	}
	return strings.Join(parts, ",")
}

func (p *prefixList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return err
			}
			*p = append(*p, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return err
		}
		*p = append(*p, prefix)
	}
	return nil
}

// startFolder loads a manifests folder and watches it for changes.
func startFolder(ctx context.Context, dir string, builder *source.Builder, holder *policy.Holder, reloadErrors prometheus.Counter, log logr.Logger) error {
	folder, err := source.NewFolder()
	if err != nil {
		return err
	}
	src := &source.FolderSource{Dir: dir, Folder: folder, Builder: builder, Holder: holder, Log: log.WithName("source"), ReloadErrors: reloadErrors}
	if err := src.Load(); err != nil {
		return fmt.Errorf("loading %s: %w", dir, err)
	}
	go func() {
		if err := src.Watch(ctx); err != nil {
			log.Error(err, "watching the manifests folder stopped; the current policy stays in force")
		}
	}()
	return nil
}

// startKube follows the resources in the API server (in-cluster, or the
// KUBECONFIG of the environment). The STS is ready once a policy is loaded;
// until the API server has been read, the source retries and says why.
func startKube(ctx context.Context, namespace, name string, builder *source.Builder, holder *policy.Holder, reloadErrors prometheus.Counter, registry prometheus.Registerer, log logr.Logger) (*source.KubeSource, error) {
	if namespace == "" || name == "" {
		return nil, errors.New("--kube needs --namespace and --name of the SecurityTokenService")
	}
	cfg, err := ctrlconfig.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("connecting to the API server: %w", err)
	}
	watches := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "trustbroker_source_watches",
		Help: "Watches this pod holds on Secrets and ConfigMaps, one per name the STS and its trusted issuers refer to (relying parties' certificate sources are read, not watched).",
	}, []string{"resource"})
	registry.MustRegister(watches)
	src := &source.KubeSource{Config: cfg, Namespace: namespace, Builder: builder, Holder: holder, Log: log.WithName("source"), ReloadErrors: reloadErrors, Watches: watches, TellOwners: true}
	go func() {
		if err := src.Run(ctx); err != nil {
			log.Error(err, "following the API server stopped; the current policy stays in force")
		}
	}()
	return src, nil
}

// replayEntries sizes the in-memory replay store from the first policy.
func replayEntries(holder *policy.Holder) int {
	if snap := holder.Load(); snap != nil {
		return snap.STS.Replay.MaxEntries
	}
	return wssec.DefaultReplayEntries
}
