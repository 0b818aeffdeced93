package source

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	restwatch "k8s.io/client-go/rest/watch"
)

// An STS pod may read only the Secrets its Role names, so it cannot watch
// them as a set: it needs one watch per name. A relying party with its own
// encryption certificate Secret adds one, so a pod serving thousands of them
// holds thousands of watches. Each is therefore kept as small as it can be:
// one GET, then one long WATCH by name whose protobuf events are decoded by
// the goroutine that follows the object, with no informer, queue or index
// behind it. An informer per name costs nine goroutines and about four
// times the memory; client-go's Watch one goroutine more
// (BenchmarkRelyingPartiesAtScale).

// namedGetter reads one object by name (SecretInterface, ConfigMapInterface).
type namedGetter[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
}

// namedObject is what a named watch follows.
type namedObject interface {
	*corev1.Secret | *corev1.ConfigMap
	GetResourceVersion() string
}

// Named watches follow a set of objects of one resource by name.
type namedWatches[T namedObject] struct {
	get       namedGetter[T]
	rest      rest.Interface
	namespace string
	resource  string
	events    runtime.StreamSerializerInfo
	changed   func()
	log       logr.Logger

	mu      sync.Mutex
	watches map[string]*namedWatch[T]
}

func newNamedWatches[T namedObject](get namedGetter[T], api rest.Interface, namespace, resource string, changed func(), log logr.Logger) *namedWatches[T] {
	protobuf, _ := runtime.SerializerInfoForMediaType(clientgoscheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	return &namedWatches[T]{get: get, rest: api, namespace: namespace, resource: resource, events: *protobuf.StreamSerializer,
		changed: changed, log: log, watches: map[string]*namedWatch[T]{}}
}

// namedWatch is the latest state of one object: nil while it does not
// exist or cannot be read.
type namedWatch[T namedObject] struct {
	stop   context.CancelFunc
	synced chan struct{} // closed once the first read answered

	mu  sync.Mutex
	obj T
}

// Set starts a watch for each name in want not yet followed and stops those
// no longer wanted. It returns the new watches' first reads, to wait on.
func (n *namedWatches[T]) Set(ctx context.Context, want []string) []<-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	wanted := map[string]bool{}
	var started []<-chan struct{}
	for _, name := range want {
		wanted[name] = true
		if n.watches[name] != nil {
			continue
		}
		wctx, stop := context.WithCancel(ctx)
		w := &namedWatch[T]{stop: stop, synced: make(chan struct{})}
		n.watches[name] = w
		started = append(started, w.synced)
		go n.follow(wctx, name, w)
	}
	for name, w := range n.watches {
		if !wanted[name] {
			w.stop()
			delete(n.watches, name)
		}
	}
	return started
}

// Objects returns the objects that exist, and the count of watches.
func (n *namedWatches[T]) Objects() ([]T, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var objs []T
	for _, w := range n.watches {
		w.mu.Lock()
		if w.obj != nil {
			objs = append(objs, w.obj)
		}
		w.mu.Unlock()
	}
	return objs, len(n.watches)
}

// StopAll ends every watch.
func (n *namedWatches[T]) StopAll() {
	n.Set(context.Background(), nil)
}

// Backoff between failed reads of one object: a newly named Secret is
// forbidden until the operator has added it to the pod's Role, which takes a
// moment, so the first retries come quickly.
const (
	namedRetryMin = 250 * time.Millisecond
	namedRetryMax = 30 * time.Second
)

// follow keeps w in step with the object until ctx ends: read it, then
// watch from the version read; when the watch ends, watch again from the
// last version seen, or read again when that version is too old.
func (n *namedWatches[T]) follow(ctx context.Context, name string, w *namedWatch[T]) {
	retry := namedRetryMin
	for ctx.Err() == nil {
		version, err := n.read(ctx, name, w)
		for err == nil && ctx.Err() == nil {
			version, err = n.watch(ctx, name, version, w)
			retry = namedRetryMin
		}
		if ctx.Err() != nil {
			return
		}
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			n.log.V(1).Info("reading a referenced object failed; retrying", "resource", n.resource, "name", name, "error", err.Error(), "retryIn", retry.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(retry):
			}
			retry = min(2*retry, namedRetryMax)
		}
	}
}

// read GETs the object into w and returns the version to watch from: its
// own, or "" (the current state, sent as events) when it does not exist. An
// object the pod may not read counts as absent, so that what refers to it is
// reported as missing; any other failure (the API server away) keeps what w
// holds, as the last policy stays in force through an outage.
func (n *namedWatches[T]) read(ctx context.Context, name string, w *namedWatch[T]) (string, error) {
	obj, err := n.get.Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		n.store(w, obj)
		return obj.GetResourceVersion(), nil
	case apierrors.IsNotFound(err):
		n.store(w, nil)
		return "", nil
	case apierrors.IsForbidden(err):
		n.store(w, nil)
		return "", err
	default:
		return "", err
	}
}

// watch follows the object from version until the watch ends and returns
// the last version seen. A nil error means the server closed the watch in
// the normal course (its timeout).
func (n *namedWatches[T]) watch(ctx context.Context, name, version string, w *namedWatch[T]) (string, error) {
	// A spread of timeouts keeps thousands of watches from reconnecting at
	// the same moment.
	timeout := int64(300 + rand.IntN(300))
	opts := metav1.ListOptions{
		Watch:               true,
		FieldSelector:       "metadata.name=" + name,
		ResourceVersion:     version,
		AllowWatchBookmarks: true,
		TimeoutSeconds:      &timeout,
	}
	body, err := n.rest.Get().Namespace(n.namespace).Resource(n.resource).VersionedParams(&opts, clientgoscheme.ParameterCodec).
		SetHeader("Accept", runtime.ContentTypeProtobuf).Stream(ctx)
	if err != nil {
		return version, err
	}
	events := restwatch.NewDecoder(streaming.NewDecoder(n.events.Framer.NewFrameReader(body), n.events.Serializer), clientgoscheme.Codecs.UniversalDeserializer())
	defer events.Close()
	for {
		typ, obj, err := events.Decode()
		switch {
		case errors.Is(err, io.EOF):
			return version, nil
		case err != nil:
			return version, err
		case typ == watch.Error:
			return version, apierrors.FromObject(obj)
		}
		o, ok := obj.(T)
		if !ok {
			continue
		}
		version = o.GetResourceVersion()
		switch typ {
		case watch.Added, watch.Modified:
			n.store(w, o)
		case watch.Deleted:
			n.store(w, nil)
		}
	}
}

// store replaces w's object, marks w synced, and reports a change.
func (n *namedWatches[T]) store(w *namedWatch[T], obj T) {
	w.mu.Lock()
	same := version(w.obj) == version(obj)
	w.obj = obj
	w.mu.Unlock()
	select {
	case <-w.synced:
		if same {
			return
		}
	default:
		close(w.synced)
	}
	n.changed()
}

// version is obj's resource version, "" for none.
func version[T namedObject](obj T) string {
	if obj == nil {
		return ""
	}
	return obj.GetResourceVersion()
}
