package controllers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// The operator's ServiceAccount as config/default installs it.
const (
	operatorNamespace      = "trustbroker-system"
	operatorServiceAccount = "trustbroker-operator"
)

// operatorRole reads the ClusterRole `make manifests` generates from the
// markers.
func operatorRole() (*rbacv1.ClusterRole, []byte, error) {
	data, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, nil, err
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		return nil, nil, fmt.Errorf("config/rbac/role.yaml: %w", err)
	}
	return &role, data, nil
}

// asOperator binds the generated ClusterRole to the operator's ServiceAccount
// and returns cfg impersonating that ServiceAccount.
func asOperator(ctx context.Context, cfg *rest.Config, c client.Client) (*rest.Config, error) {
	role, _, err := operatorRole()
	if err != nil {
		return nil, err
	}
	role.ResourceVersion = ""
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: operatorServiceAccount}},
		role,
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNamespace, Name: operatorServiceAccount}},
		},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	as := rest.CopyConfig(cfg)
	as.Impersonate = rest.ImpersonationConfig{
		UserName: serviceaccount.MakeUsername(operatorNamespace, operatorServiceAccount),
		Groups:   append(serviceaccount.MakeGroupNames(operatorNamespace), user.AllAuthenticated),
	}
	return as, nil
}

// TestOperatorRoleNamesOnlyWhatItDoes pins the generated ClusterRole: the
// operator reads its three kinds, Secrets and ConfigMaps, and writes only
// status and the objects an STS runs on. The chart carries the same file.
func TestOperatorRoleNamesOnlyWhatItDoes(t *testing.T) {
	role, data, err := operatorRole()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range role.Rules {
		if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Errorf("unexpected rule %+v", r)
			continue
		}
		verbs := slices.Clone(r.Verbs)
		sort.Strings(verbs)
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				got[g+"/"+res] = strings.Join(verbs, ",")
			}
		}
	}
	const read, apply = "get,list,watch", "create,get,list,patch,watch"
	want := map[string]string{
		"sts.trustbroker.io/securitytokenservices":            read,
		"sts.trustbroker.io/relyingparties":                   read,
		"sts.trustbroker.io/trustedissuers":                   read,
		"sts.trustbroker.io/securitytokenservices/status":     "get,patch,update",
		"sts.trustbroker.io/relyingparties/status":            "get,patch,update",
		"sts.trustbroker.io/trustedissuers/status":            "get,patch,update",
		"sts.trustbroker.io/securitytokenservices/finalizers": "update",
		"/secrets":                                  read,
		"/configmaps":                               read,
		"/services":                                 apply,
		"/serviceaccounts":                          apply,
		"apps/deployments":                          apply,
		"rbac.authorization.k8s.io/roles":           apply,
		"rbac.authorization.k8s.io/rolebindings":    apply,
		"policy/poddisruptionbudgets":               "create,delete,get,list,patch,watch",
		"events.k8s.io/events":                      "create,get,list,patch,watch", // posting its own; reading the STS pods' (PolicyLoaded)
		"authentication.k8s.io/tokenreviews":        "create",
		"authorization.k8s.io/subjectaccessreviews": "create",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: verbs %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: verbs %q, granted but not used", k, v)
		}
	}
	chart, err := os.ReadFile(filepath.Join("..", "charts", "trustbroker", "files", "operator-role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chart, data) {
		t.Error("charts/trustbroker/files/operator-role.yaml differs from config/rbac/role.yaml: run `make manifests`")
	}
}

// TestOperatorCannotWriteSecrets asks the API server, as `kubectl auth
// can-i --as` does, what the operator's ServiceAccount may do.
func TestOperatorCannotWriteSecrets(t *testing.T) {
	needCluster(t)
	ctx := context.Background()
	sa := serviceaccount.MakeUsername(operatorNamespace, operatorServiceAccount)
	groups := append(serviceaccount.MakeGroupNames(operatorNamespace), user.AllAuthenticated)
	canI := func(verb, group, resource, sub string) bool {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: sa, Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "default", Verb: verb, Group: group, Resource: resource, Subresource: sub},
		}}
		if err := cluster.client.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed
	}
	for _, res := range []string{"secrets", "configmaps"} {
		for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
			if canI(verb, "", res, "") {
				t.Errorf("the operator may %s %s", verb, res)
			}
		}
		if !canI("watch", "", res, "") {
			t.Errorf("the operator may not watch %s", res)
		}
	}
	for _, res := range []string{"securitytokenservices", "relyingparties", "trustedissuers"} {
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			if canI(verb, "sts.trustbroker.io", res, "") {
				t.Errorf("the operator may %s %s", verb, res)
			}
		}
		if !canI("update", "sts.trustbroker.io", res, "status") {
			t.Errorf("the operator may not update %s/status", res)
		}
	}
	for _, verb := range []string{"update", "delete"} {
		if canI(verb, "apps", "deployments", "") {
			t.Errorf("the operator may %s deployments", verb)
		}
	}
}
