package source

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
	"github.com/trustbroker/trustbroker/internal/policy"
	"github.com/trustbroker/trustbroker/internal/testtools/apiserver"
)

// ownerEvents lists the events STS pods posted on the "sts" object.
func ownerEvents(t *testing.T, c client.Client, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := c.List(context.Background(), &list, client.InNamespace(kubeNS)); err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "SecurityTokenService" && e.Regarding.Name == "sts" && e.ReportingController == PodEventsController && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func waitOwnerEvent(t *testing.T, c client.Client, reason string) eventsv1.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if es := ownerEvents(t, c, reason); len(es) > 0 {
			return es[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s event on the SecurityTokenService", reason)
	return eventsv1.Event{}
}

// TestPodTellsItsOwners: what keeps a pod from using the STS's settings,
// which the operator may not see (a PKCS#11 token refusing its PIN is
// read by the pods alone), shows among the SecurityTokenService's events:
// once while it lasts, and a Normal event when it is over.
func TestPodTellsItsOwners(t *testing.T) {
	api := apiserver.Start(t)
	ctx := context.Background()
	c := api.Client
	sts := &stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
		Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts",
		Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}},
	}}
	if err := c.Create(ctx, sts); err != nil {
		t.Fatal(err)
	}
	_, holder := runKubeSource(t, api, 0, func(k *KubeSource) { k.TellOwners = true })

	e := waitOwnerEvent(t, c, stsv1alpha1.ReasonPolicyNotRebuilt)
	if e.Type != corev1.EventTypeWarning || !strings.Contains(e.Note, "last good policy stays in force") || !strings.Contains(e.Note, "Secret default/signing not found") {
		t.Errorf("event %s %q, want a Warning naming the signing Secret", e.Type, e.Note)
	}

	// The same problem again (any change rebuilds) is not posted again.
	sts.Labels = map[string]string{"touched": "yes"}
	if err := c.Update(ctx, sts); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if es := ownerEvents(t, c, stsv1alpha1.ReasonPolicyNotRebuilt); len(es) != 1 || es[0].Series != nil {
		t.Errorf("%d events (series %v), want the problem posted once", len(es), es[0].Series)
	}

	signing, _ := tlsSecret(t, "signing")
	if err := c.Create(ctx, signing); err != nil {
		t.Fatal(err)
	}
	eventually(t, holder, "the policy loads", func(*policy.Snapshot) bool { return true })
	if e := waitOwnerEvent(t, c, ReasonPolicyLoaded); e.Type != corev1.EventTypeNormal {
		t.Errorf("recovery event is %s", e.Type)
	}

	// A part of the settings that cannot be used is said too.
	if err := c.Get(ctx, client.ObjectKeyFromObject(sts), sts); err != nil {
		t.Fatal(err)
	}
	sts.Spec.Authentication.UsernameToken = &stsv1alpha1.UsernameTokenSpec{Enabled: true, AllowPasswordText: true,
		UserStore: &stsv1alpha1.UserStoreSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "users"}}}
	if err := c.Update(ctx, sts); err != nil {
		t.Fatal(err)
	}
	if e := waitOwnerEvent(t, c, stsv1alpha1.ReasonPolicyPartUnused); e.Type != corev1.EventTypeWarning || !strings.Contains(e.Note, "Secret default/users not found") {
		t.Errorf("event %s %q, want a Warning naming the users Secret", e.Type, e.Note)
	}
}

// TestPodWithdrawsItsReportWhenStopping: a pod that reported a problem says,
// as it stops, that its report no longer stands, so that a rollout does not
// leave the replaced pods' problems in the status.
func TestPodWithdrawsItsReportWhenStopping(t *testing.T) {
	api := apiserver.Start(t)
	c := api.Client
	sts := &stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
		Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts",
		Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}},
	}}
	if err := c.Create(context.Background(), sts); err != nil {
		t.Fatal(err)
	}
	src := &KubeSource{Config: api.Config, Namespace: kubeNS, Builder: &Builder{STS: Key(kubeNS, "sts")}, Holder: &policy.Holder{}, Log: testr.New(t), TellOwners: true}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Run(ctx) }()
	problem := waitOwnerEvent(t, c, stsv1alpha1.ReasonPolicyNotRebuilt)
	if len(ownerEvents(t, c, ReasonPodStopped)) != 0 {
		t.Fatal("withdrawn before the pod stopped")
	}

	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	withdrawn := waitOwnerEvent(t, c, ReasonPodStopped)
	if withdrawn.Type != corev1.EventTypeNormal || withdrawn.ReportingInstance != problem.ReportingInstance || !withdrawn.EventTime.After(problem.EventTime.Time) {
		t.Errorf("%s event from %s at %v, want a later Normal one from %s", withdrawn.Type, withdrawn.ReportingInstance, withdrawn.EventTime, problem.ReportingInstance)
	}
}

// TestPodReportSeenAgain: a lasting problem's event is marked as seen again
// at once, with a series the operator reads (the client-go broadcaster
// would send the new time only every 30 minutes).
func TestPodReportSeenAgain(t *testing.T) {
	api := apiserver.Start(t)
	ctx := context.Background()
	sts := &stsv1alpha1.SecurityTokenService{ObjectMeta: metav1.ObjectMeta{Namespace: kubeNS, Name: "sts"}, Spec: stsv1alpha1.SecurityTokenServiceSpec{
		Issuer: "urn:test:sts", Endpoint: "https://sts.example.com/sts",
		Signing: stsv1alpha1.SigningSpec{SecretRef: &stsv1alpha1.SecretKeySelector{Name: "signing"}},
	}}
	if err := api.Client.Create(ctx, sts); err != nil {
		t.Fatal(err)
	}
	clients, err := kubernetes.NewForConfig(api.Config)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	r := newPodReporter(clients.EventsV1().Events(kubeNS), testr.New(t))
	r.now = func() time.Time { return clock }
	e := r.post(ctx, sts, corev1.EventTypeWarning, stsv1alpha1.ReasonPolicyPartUnused, "the user store is switched off")
	if e == nil {
		t.Fatal("not posted")
	}
	for want := int32(2); want <= 3; want++ {
		clock = clock.Add(PodReportRepeat)
		e = r.again(ctx, e)
		got := ownerEvents(t, api.Client, stsv1alpha1.ReasonPolicyPartUnused)
		if len(got) != 1 || got[0].Series == nil || got[0].Series.Count != want || !got[0].Series.LastObservedTime.Time.Equal(clock.Truncate(time.Microsecond)) {
			t.Fatalf("after %d reports: %+v", want, got)
		}
	}

	// An event that expired is posted anew at the next repeat after the
	// one that found it gone.
	k := &KubeSource{reporter: r, reported: ownerReport{sts: sts, reason: stsv1alpha1.ReasonPolicyPartUnused, note: e.Note, event: e}}
	if err := api.Client.Delete(ctx, e); err != nil {
		t.Fatal(err)
	}
	k.tellOwnersAgain(ctx)
	k.tellOwnersAgain(ctx)
	if got := ownerEvents(t, api.Client, stsv1alpha1.ReasonPolicyPartUnused); len(got) != 1 || got[0].Name == e.Name || got[0].Note != e.Note {
		t.Fatalf("after the event expired: %+v", got)
	}
}
