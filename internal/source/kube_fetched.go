package source

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// Relying parties are what a platform has thousands of, each encrypting to
// a certificate in a Secret (or ConfigMap) of its own. A watch per name
// would cost a pod about 60 KiB each (BenchmarkRelyingPartiesAtScale), so
// these objects are read by GET instead: when a relying party first refers
// to one, when the operator records a new resourceVersion of it in the
// relying party's status.certificateSourceVersion (the operator watches
// every Secret's metadata anyway), and once per resync period as a backstop
// for changes made while the operator was away. The STS's own Secrets and
// those of trusted issuers are few, and a revocation through them must not
// wait for the operator: they keep their watches (namedWatches).

// sourceKey names a Secret or a ConfigMap.
type sourceKey struct {
	configMap bool
	name      string
}

// encryptionSources lists the objects the encryption certificates of sts's
// relying parties come from, other than those watched, each with the
// version the operator recorded
// ("" for none). Relying parties that disagree (the operator has updated
// one status and not yet the other) record an unknown version, which forces
// a read.
func encryptionSources(sts *stsv1alpha1.SecurityTokenService, rps []*stsv1alpha1.RelyingParty, watched References) map[sourceKey]string {
	const unknown = "?"
	want := map[sourceKey]string{}
	for _, rp := range rps {
		if rp.Namespace != sts.Namespace || rp.Spec.STSRef.Name != sts.Name || rp.Spec.Encryption == nil || rp.Spec.Encryption.Certificate == nil {
			continue
		}
		var key sourceKey
		switch src := rp.Spec.Encryption.Certificate; {
		case src.SecretRef != nil:
			key = sourceKey{name: src.SecretRef.Name}
		case src.ConfigMapRef != nil:
			key = sourceKey{configMap: true, name: src.ConfigMapRef.Name}
		default:
			continue
		}
		if key.configMap && slices.Contains(watched.ConfigMaps, key.name) || !key.configMap && slices.Contains(watched.Secrets, key.name) {
			continue // the watch is the only copy used, so a deletion it sees is in force at once
		}
		version := rp.Status.CertificateSourceVersion
		if seen, ok := want[key]; ok && seen != version {
			version = unknown
		}
		want[key] = version
	}
	return want
}

// fetchedObjects are the objects read by GET, with what they were read at.
type fetchedObjects struct {
	secrets    corev1client.SecretInterface
	configMaps corev1client.ConfigMapInterface
	log        logr.Logger

	mu    sync.Mutex
	objs  map[sourceKey]fetched
	stale bool
}

// resync makes every object be read again each period, until ctx ends.
func (f *fetchedObjects) resync(ctx context.Context, period time.Duration, changed func()) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f.Resync()
			changed()
		}
	}
}

// fetched is one object as read; obj is nil when it does not exist or may
// not be read. recorded is the version the relying parties recorded when it
// was read: a read is due when that record changes, whatever its value
// ("" both before the operator first records one and once the object is
// gone).
type fetched struct {
	obj      any // *corev1.Secret or *corev1.ConfigMap
	recorded string
}

// unanswered marks an object whose last read got no answer; no recorded
// version equals it, so the next Sync reads it again.
const unanswered = "\x00unanswered"

// fetchConcurrency bounds the GETs in flight, so that a pod starting with
// thousands of relying parties does not hold thousands of requests at once.
const fetchConcurrency = 16

// Sync reads the objects of want that are new, whose recorded version
// changed since they were read, or all of them after Resync; it forgets
// those no longer wanted, and returns what exists.
func (f *fetchedObjects) Sync(ctx context.Context, want map[sourceKey]string) (secrets []*corev1.Secret, configMaps []*corev1.ConfigMap) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objs == nil {
		f.objs = map[sourceKey]fetched{}
	}
	var due []sourceKey
	for key, recorded := range want {
		if held, ok := f.objs[key]; !ok || f.stale || recorded != held.recorded {
			due = append(due, key)
		}
	}
	got := make([]fetched, len(due))
	answered := make([]bool, len(due))
	var reads errgroup.Group
	reads.SetLimit(fetchConcurrency)
	for i, key := range due {
		reads.Go(func() error {
			got[i], answered[i] = f.read(ctx, key)
			got[i].recorded = want[key]
			return nil
		})
	}
	_ = reads.Wait()
	for i, key := range due {
		held, ok := f.objs[key]
		switch {
		case answered[i]:
			f.objs[key] = got[i]
		case ok:
			// Kept as it was, and read again at the next Sync.
			held.recorded = unanswered
			f.objs[key] = held
		}
	}
	f.stale = false
	for key, held := range f.objs {
		if _, ok := want[key]; !ok {
			delete(f.objs, key)
			continue
		}
		switch o := held.obj.(type) {
		case *corev1.Secret:
			secrets = append(secrets, o)
		case *corev1.ConfigMap:
			configMaps = append(configMaps, o)
		}
	}
	return secrets, configMaps
}

// read GETs one object. An object that does not exist or may not be read is
// absent; any other failure (the API server away) is no answer (ok false):
// what was held stays, and the next Sync tries again.
func (f *fetchedObjects) read(ctx context.Context, key sourceKey) (got fetched, ok bool) {
	var obj metav1.Object
	var err error
	if key.configMap {
		obj, err = f.configMaps.Get(ctx, key.name, metav1.GetOptions{})
	} else {
		obj, err = f.secrets.Get(ctx, key.name, metav1.GetOptions{})
	}
	switch {
	case err == nil:
		// Only the data is used; kubectl's last-applied annotation would
		// hold a second copy of it.
		obj.SetManagedFields(nil)
		obj.SetAnnotations(nil)
		return fetched{obj: obj}, true
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		return fetched{}, true
	default:
		f.log.Info("reading a relying party's certificate source failed; what was read before stays in use", "configMap", key.configMap, "name", key.name, "error", err.Error())
		return fetched{}, false
	}
}

// Resync makes the next Sync read every object again.
func (f *fetchedObjects) Resync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stale = true
}
