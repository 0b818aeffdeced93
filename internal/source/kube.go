package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
)

// kubeSettle batches a burst of API events (kubectl apply of many objects)
// into one rebuild.
const kubeSettle = 50 * time.Millisecond

// KubeSource keeps a policy.Holder in step with the Kubernetes API: it
// watches the namespace's SecurityTokenServices, RelyingParties and
// TrustedIssuers, and each Secret and ConfigMap they name (by name only: the
// pod's Role lets it read those and no others). Every change becomes a new
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

	cache   ctrlcache.Cache
	clients kubernetes.Interface
	changed chan struct{}

	mu         sync.Mutex
	secrets    map[string]*namedWatch
	configMaps map[string]*namedWatch
}

// namedWatch is an informer on one object, by name.
type namedWatch struct {
	informer toolscache.SharedIndexInformer
	stop     context.CancelFunc
}

// Run watches until ctx ends. It returns once the first snapshot could not
// be built within the start-up timeout, or when ctx ends.
func (k *KubeSource) Run(ctx context.Context) error {
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), stsv1alpha1.AddToScheme(scheme)); err != nil {
		return err
	}
	var err error
	if k.cache, err = ctrlcache.New(k.Config, ctrlcache.Options{Scheme: scheme, DefaultNamespaces: map[string]ctrlcache.Config{k.Namespace: {}}}); err != nil {
		return fmt.Errorf("creating the cache: %w", err)
	}
	if k.clients, err = kubernetes.NewForConfig(k.Config); err != nil {
		return err
	}
	k.changed = make(chan struct{}, 1)
	k.secrets, k.configMaps = map[string]*namedWatch{}, map[string]*namedWatch{}

	for _, obj := range []client.Object{&stsv1alpha1.SecurityTokenService{}, &stsv1alpha1.RelyingParty{}, &stsv1alpha1.TrustedIssuer{}} {
		inf, err := k.cache.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(k.onChange()); err != nil {
			return err
		}
	}
	go func() {
		if err := k.cache.Start(ctx); err != nil {
			k.Log.Error(err, "the API cache stopped")
		}
	}()
	if !k.cache.WaitForCacheSync(ctx) {
		return errors.New("the API cache did not sync")
	}
	k.rebuild(ctx)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			k.stopAll()
			return nil
		case <-k.changed:
			timer.Reset(kubeSettle)
		case <-timer.C:
			k.rebuild(ctx)
		}
	}
}

func (k *KubeSource) onChange() toolscache.ResourceEventHandler {
	notify := func() {
		select {
		case k.changed <- struct{}{}:
		default:
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
}

// rebuild reads the current objects from the caches and publishes a new
// snapshot, or keeps the current one and logs why.
func (k *KubeSource) rebuild(ctx context.Context) {
	objs, err := k.objects(ctx)
	if err == nil {
		err = k.Builder.Publish(objs, k.Holder, k.Log)
	}
	if err != nil {
		k.Log.Error(err, "policy not rebuilt; the last good policy stays in force")
		countError(k.ReloadErrors)
	}
}

// objects lists the trustbroker objects and, after bringing the per-name
// watches in line with what they reference, the Secrets and ConfigMaps.
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
	refs := ReferencesOf(sts, objs.RelyingParties, objs.TrustedIssuers)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.watchNames(ctx, k.secrets, refs.Secrets, "secrets", &corev1.Secret{})
	k.watchNames(ctx, k.configMaps, refs.ConfigMaps, "configmaps", &corev1.ConfigMap{})
	for _, w := range k.secrets {
		for _, o := range w.informer.GetStore().List() {
			s := o.(*corev1.Secret)
			objs.Secrets[Key(s.Namespace, s.Name)] = s
		}
	}
	for _, w := range k.configMaps {
		for _, o := range w.informer.GetStore().List() {
			c := o.(*corev1.ConfigMap)
			objs.ConfigMaps[Key(c.Namespace, c.Name)] = c
		}
	}
	return objs, nil
}

// watchNames starts an informer for each wanted name not yet watched, waits
// for the new ones to sync, and stops those no longer wanted.
func (k *KubeSource) watchNames(ctx context.Context, watches map[string]*namedWatch, want []string, resource string, obj runtime.Object) {
	wanted := map[string]bool{}
	var started []toolscache.InformerSynced
	for _, name := range want {
		wanted[name] = true
		if watches[name] != nil {
			continue
		}
		lw := toolscache.NewFilteredListWatchFromClient(k.clients.CoreV1().RESTClient(), resource, k.Namespace, func(o *metav1.ListOptions) {
			o.FieldSelector = "metadata.name=" + name
		})
		inf := toolscache.NewSharedIndexInformer(lw, obj, 0, toolscache.Indexers{})
		if _, err := inf.AddEventHandler(k.onChange()); err != nil {
			k.Log.Error(err, "watching", "resource", resource, "name", name)
			continue
		}
		wctx, stop := context.WithCancel(ctx)
		go inf.RunWithContext(wctx)
		watches[name] = &namedWatch{informer: inf, stop: stop}
		started = append(started, inf.HasSynced)
	}
	for name, w := range watches {
		if !wanted[name] {
			w.stop()
			delete(watches, name)
		}
	}
	if len(started) > 0 {
		syncCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if !toolscache.WaitForCacheSync(syncCtx.Done(), started...) {
			k.Log.Info("some watched objects did not sync in time; they count as missing until they do", "resource", resource)
		}
	}
}

func (k *KubeSource) stopAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, w := range k.secrets {
		w.stop()
	}
	for _, w := range k.configMaps {
		w.stop()
	}
}
