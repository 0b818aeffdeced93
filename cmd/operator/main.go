// Command operator runs the trustbroker operator: a controller-runtime manager
// that reconciles SecurityTokenService, RelyingParty and TrustedIssuer
// resources into running STS pods and their status.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/controllers"
)

// The metrics filter authenticates callers with TokenReviews and authorizes
// them with SubjectAccessReviews.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// cacheSyncTimeout bounds how long /readyz waits for the caches, well within
// a probe's default one-second timeout.
const cacheSyncTimeout = 500 * time.Millisecond

func main() {
	var metricsAddr, probeAddr string
	var metricsCertPath, metricsCertName, metricsCertKey string
	var secureMetrics, enableHTTP2, leaderElect bool
	var stsImage, stsPullSecrets string
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "The address the metrics endpoint binds to. "+
		"Use :8443 for HTTPS or :8080 for HTTP, or \"0\" to disable the metrics service.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the /healthz and /readyz probes bind to.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve the metrics endpoint over HTTPS to authenticated and authorized callers only. "+
		"Use --metrics-secure=false to serve plain HTTP to anyone.")
	flag.StringVar(&metricsCertPath, "metrics-cert-path", "", "The directory that contains the metrics server certificate; "+
		"empty means a self-signed certificate made at start.")
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "The name of the metrics server certificate file.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "The name of the metrics server key file.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Enable HTTP/2 for the metrics server.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so that only one operator replica reconciles at a time.")
	flag.StringVar(&stsImage, "sts-image", "ghcr.io/trustbroker/trustbroker:dev", "The STS container image for SecurityTokenServices that set no spec.image.")
	flag.StringVar(&stsPullSecrets, "sts-image-pull-secrets", "", "Comma-separated names of Secrets every STS pod pulls its image with "+
		"(they must exist in each SecurityTokenService's namespace); spec.podTemplate.spec.imagePullSecrets adds more.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(stsv1alpha1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		// HTTP/2 Stream Cancellation and Rapid Reset (CVE-2023-44487,
		// CVE-2023-39325): HTTP/1.1 only unless asked.
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	var metricsCertWatcher *certwatcher.CertWatcher
	if metricsCertPath != "" {
		// A watcher, so a renewed certificate (cert-manager) is served
		// without a restart.
		var err error
		metricsCertWatcher, err = certwatcher.New(filepath.Join(metricsCertPath, metricsCertName), filepath.Join(metricsCertPath, metricsCertKey))
		if err != nil {
			log.Error(err, "cannot read the metrics certificate", "dir", metricsCertPath)
			os.Exit(1)
		}
		metricsOpts.TLSOpts = append(metricsOpts.TLSOpts, func(c *tls.Config) { c.GetCertificate = metricsCertWatcher.GetCertificate })
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         leaderElect,
		LeaderElectionID:       "operator.sts.trustbroker.io",
	})
	if err != nil {
		log.Error(err, "cannot create the manager")
		os.Exit(1)
	}
	if metricsCertWatcher != nil {
		if err := mgr.Add(metricsCertWatcher); err != nil {
			log.Error(err, "cannot add the metrics certificate watcher")
			os.Exit(1)
		}
	}
	ctx := ctrl.SetupSignalHandler()
	if err := controllers.Setup(ctx, mgr, controllers.Options{STSImage: stsImage, STSImagePullSecrets: splitNames(stsPullSecrets)}); err != nil {
		log.Error(err, "cannot set up the reconcilers")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "cannot add the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("caches", cachesSynced(mgr.GetCache())); err != nil {
		log.Error(err, "cannot add the readiness check")
		os.Exit(1)
	}

	log.Info("starting the operator")
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "the manager stopped")
		os.Exit(1)
	}
}

// cachesSynced is ready once the informers the reconcilers read from have
// synced: before that, a replica would reconcile from a partial view.
func cachesSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), cacheSyncTimeout)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the caches have not synced yet")
		}
		return nil
	}
}

// splitNames splits a comma-separated list, dropping blanks.
func splitNames(list string) []string {
	var names []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}
