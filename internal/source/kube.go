package source

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// kubeSettle batches a burst of API events (kubectl apply of many objects)
// into one rebuild.
const kubeSettle = 50 * time.Millisecond

// KubeSource keeps a policy.Holder in step with the Kubernetes API: it
// watches the namespace's SecurityTokenServices, RelyingParties and
// TrustedIssuers, and each Secret and ConfigMap the STS and its trusted
// issuers name (by name only: the pod's Role lets it read those and no
// others); the relying parties' certificate sources are read when the
// operator records a change (kube_fetched.go). Every change becomes a new
// snapshot, in which an object that cannot be used is left out (only the
// signing key keeps its last good version, see Builder.Build); if the API
// server goes away, the last snapshot stays in force.
type KubeSource struct {
	Config    *rest.Config
	Namespace string
	Builder   *Builder
	Holder    *policy.Holder
	Log       logr.Logger
	// ReloadErrors, when set, counts changes that could not be loaded.
	ReloadErrors prometheus.Counter
	// Watches, when set, is the number of watches on Secrets and ConfigMaps
	// by name, labelled by resource.
	Watches *prometheus.GaugeVec
	// Resync is how often the relying parties' certificate sources are read
	// again whether or not the operator recorded a change; 0 means 10
	// minutes.
	Resync time.Duration
	// TellOwners has the pod post events on its SecurityTokenService about
	// what keeps it from using the STS's settings (see tellOwners).
	TellOwners bool

	scheme     *runtime.Scheme
	cache      ctrlcache.Cache
	stopCache  context.CancelFunc
	changed    chan struct{}
	secrets    *namedWatches[*corev1.Secret]
	configMaps *namedWatches[*corev1.ConfigMap]
	fetched    *fetchedObjects
	reporter   *podReporter // nil unless TellOwners
	reported   ownerReport  // the problem tellOwners last posted; Run's goroutine only
	// waiting holds why the last attempt to sync failed, until synced.
	waiting atomic.Pointer[error]
	synced  atomic.Bool
}

// Backoff between attempts to reach the API server before the caches first
// sync: quick retries when it is only starting, no faster than every
// connectBackoffCap during a long outage.
const (
	connectBackoffStart = 500 * time.Millisecond
	connectBackoffCap   = 30 * time.Second
	// connectTimeout bounds each attempt: a discovery request, and the
	// first list of each kind.
	connectTimeout = 30 * time.Second
)

// Run watches until ctx ends. Until the caches first sync it retries with
// backoff, whatever keeps them from syncing (API server away, CRDs not yet
// installed, access refused), saying why in the log and in Waiting. After
// that, the informers ride out outages by themselves.
func (k *KubeSource) Run(ctx context.Context) error {
	if err := k.init(); err != nil {
		return err
	}
	delay := connectBackoffStart
	for {
		err := k.connect(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		k.waiting.Store(&err)
		k.Log.Info("waiting for the API server", "cause", err.Error(), "retryIn", delay.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, connectBackoffCap)
	}
	k.synced.Store(true)
	k.Log.Info("following the API server", "namespace", k.Namespace)
	go k.fetched.resync(ctx, cmp.Or(k.Resync, 10*time.Minute), k.notify)
	k.rebuild(ctx)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	repost := time.NewTicker(PodReportRepeat)
	defer repost.Stop()
	for {
		select {
		case <-ctx.Done():
			k.withdrawReport()
			k.stopCache()
			k.secrets.StopAll()
			k.configMaps.StopAll()
			return nil
		case <-k.changed:
			timer.Reset(kubeSettle)
		case <-timer.C:
			k.rebuild(ctx)
		case <-repost.C:
			k.tellOwnersAgain(ctx)
		}
	}
}

// namedConfig is the API client configuration of the named watches:
// protobuf, which costs less to decode than JSON, and a request rate that
// lets a pod start thousands of them in seconds (one GET and one WATCH
// each); the API server's priority and fairness still bounds it.
func namedConfig(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.QPS, c.Burst = 500, 1000
	return c
}

// Waiting says why the source has not yet read the API server's objects;
// nil once it has (later outages leave the last policy in force).
func (k *KubeSource) Waiting() error {
	if k.synced.Load() {
		return nil
	}
	if err := k.waiting.Load(); err != nil {
		return *err
	}
	return errNotYetSynced
}

var errNotYetSynced = errors.New("the first list of the resources is under way")

func (k *KubeSource) init() error {
	k.scheme = runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(k.scheme), stsv1alpha1.AddToScheme(k.scheme)); err != nil {
		return err
	}
	clients, err := kubernetes.NewForConfig(namedConfig(k.Config))
	if err != nil {
		return err
	}
	k.changed = make(chan struct{}, 1)
	core := clients.CoreV1()
	k.secrets = newNamedWatches(core.Secrets(k.Namespace), core.RESTClient(), k.Namespace, "secrets", k.notify, k.Log)
	k.configMaps = newNamedWatches(core.ConfigMaps(k.Namespace), core.RESTClient(), k.Namespace, "configmaps", k.notify, k.Log)
	k.fetched = &fetchedObjects{secrets: core.Secrets(k.Namespace), configMaps: core.ConfigMaps(k.Namespace), log: k.Log}
	if k.TellOwners {
		k.reporter = newPodReporter(clients.EventsV1().Events(k.Namespace), k.Log)
	}
	return nil
}

// connect starts a cache of the trustbroker kinds and waits for it to sync.
// On failure the attempt's cache is stopped, and the next attempt starts
// afresh (a new cache and REST mapper, which may have cached a failed
// discovery).
func (k *KubeSource) connect(ctx context.Context) error {
	// Discovery gets a deadline of its own, so that an unreachable address
	// cannot hold an attempt for minutes; the watches must have none.
	discovery := rest.CopyConfig(k.Config)
	discovery.Timeout = connectTimeout
	httpClient, err := rest.HTTPClientFor(discovery)
	if err != nil {
		return err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(discovery, httpClient)
	if err != nil {
		return err
	}
	var lastWatchErr atomic.Pointer[error]
	c, err := ctrlcache.New(k.Config, ctrlcache.Options{
		Scheme: k.scheme, Mapper: mapper,
		DefaultNamespaces: map[string]ctrlcache.Config{k.Namespace: {}},
		DefaultWatchErrorHandler: func(ctx context.Context, r *toolscache.Reflector, err error) {
			lastWatchErr.Store(&err)
			toolscache.DefaultWatchErrorHandler(ctx, r, err)
		},
	})
	if err != nil {
		return fmt.Errorf("creating the cache: %w", err)
	}
	attempt, stop := context.WithCancel(ctx)
	for _, obj := range []client.Object{&stsv1alpha1.SecurityTokenService{}, &stsv1alpha1.RelyingParty{}, &stsv1alpha1.TrustedIssuer{}} {
		inf, err := c.GetInformer(attempt, obj)
		if err != nil {
			stop()
			return fmt.Errorf("watching %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(k.onChange()); err != nil {
			stop()
			return err
		}
	}
	go func() {
		if err := c.Start(attempt); err != nil {
			k.Log.Error(err, "the API cache stopped")
		}
	}()
	syncCtx, cancel := context.WithTimeout(attempt, connectTimeout)
	defer cancel()
	if !c.WaitForCacheSync(syncCtx) {
		stop()
		if err := lastWatchErr.Load(); err != nil {
			return fmt.Errorf("listing the resources: %w", *err)
		}
		return fmt.Errorf("the resources were not listed within %s", connectTimeout)
	}
	k.cache, k.stopCache = c, stop
	return nil
}

func (k *KubeSource) onChange() toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { k.notify() },
		UpdateFunc: func(any, any) { k.notify() },
		DeleteFunc: func(any) { k.notify() },
	}
}

// notify asks for a rebuild.
func (k *KubeSource) notify() {
	select {
	case k.changed <- struct{}{}:
	default:
	}
}

// rebuild reads the current objects from the caches and publishes a new
// snapshot, or keeps the current one and logs why.
func (k *KubeSource) rebuild(ctx context.Context) {
	objs, err := k.objects(ctx)
	var problems []Problem
	if err == nil {
		problems, err = k.Builder.Publish(objs, k.Holder, k.Log)
	}
	if err != nil {
		k.Log.Error(err, "policy not rebuilt; the last good policy stays in force")
		countError(k.ReloadErrors)
	}
	k.tellOwners(ctx, objs, problems, err)
}

// objects lists the trustbroker objects and, after bringing the per-name
// watches and the fetched objects in line with what they reference, the
// Secrets and ConfigMaps.
func (k *KubeSource) objects(ctx context.Context) (*Objects, error) {
	var stss stsv1alpha1.SecurityTokenServiceList
	var rps stsv1alpha1.RelyingPartyList
	var tis stsv1alpha1.TrustedIssuerList
	in := client.InNamespace(k.Namespace)
	if err := errors.Join(k.cache.List(ctx, &stss, in), k.cache.List(ctx, &rps, in), k.cache.List(ctx, &tis, in)); err != nil {
		return nil, err
	}
	objs := &Objects{Secrets: map[types.NamespacedName]*corev1.Secret{}, ConfigMaps: map[types.NamespacedName]*corev1.ConfigMap{}}
	for i := range stss.Items {
		objs.SecurityTokenServices = append(objs.SecurityTokenServices, &stss.Items[i])
	}
	for i := range rps.Items {
		objs.RelyingParties = append(objs.RelyingParties, &rps.Items[i])
	}
	for i := range tis.Items {
		objs.TrustedIssuers = append(objs.TrustedIssuers, &tis.Items[i])
	}
	sts, err := k.Builder.pickSTS(objs)
	if err != nil {
		return nil, err
	}
	// The STS's own objects and the trusted issuers' are watched; the
	// relying parties' certificate sources are read (kube_fetched.go).
	watched := ReferencesOf(sts, nil, objs.TrustedIssuers)
	k.await(ctx, "secrets", k.secrets.Set(ctx, watched.Secrets))
	k.await(ctx, "configmaps", k.configMaps.Set(ctx, watched.ConfigMaps))
	secrets, nSecrets := k.secrets.Objects()
	configMaps, nConfigMaps := k.configMaps.Objects()
	fetchedSecrets, fetchedConfigMaps := k.fetched.Sync(ctx, encryptionSources(sts, objs.RelyingParties, watched))
	for _, s := range append(fetchedSecrets, secrets...) {
		objs.Secrets[Key(s.Namespace, s.Name)] = s
	}
	for _, c := range append(fetchedConfigMaps, configMaps...) {
		objs.ConfigMaps[Key(c.Namespace, c.Name)] = c
	}
	if k.Watches != nil {
		k.Watches.WithLabelValues("secrets").Set(float64(nSecrets))
		k.Watches.WithLabelValues("configmaps").Set(float64(nConfigMaps))
	}
	return objs, nil
}

// namedSyncTimeout bounds the wait for newly named objects' first reads
// before a rebuild goes on without them (they count as missing until read).
const namedSyncTimeout = 30 * time.Second

// await waits for the first reads of newly watched objects.
func (k *KubeSource) await(ctx context.Context, resource string, started []<-chan struct{}) {
	if len(started) == 0 {
		return
	}
	deadline := time.NewTimer(namedSyncTimeout)
	defer deadline.Stop()
	for i, synced := range started {
		select {
		case <-synced:
		case <-ctx.Done():
			return
		case <-deadline.C:
			k.Log.Info("some referenced objects could not be read in time; they count as missing until they are", "resource", resource, "waiting", len(started)-i)
			return
		}
	}
}
