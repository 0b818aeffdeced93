package source

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	stsv1alpha1 "github.com/trustbroker/trustbroker/api/v1alpha1"
)

// DefaultNamespace is the namespace of a manifest that names none.
const DefaultNamespace = "default"

// Objects are the API objects a policy is built from, however they were read.
type Objects struct {
	SecurityTokenServices []*stsv1alpha1.SecurityTokenService
	RelyingParties        []*stsv1alpha1.RelyingParty
	TrustedIssuers        []*stsv1alpha1.TrustedIssuer
	Secrets               map[types.NamespacedName]*corev1.Secret
	ConfigMaps            map[types.NamespacedName]*corev1.ConfigMap
}

// Folder reads manifests folders. It is safe for concurrent use.
type Folder struct {
	schemas map[string]*crdSchema
}

// NewFolder prepares a reader that checks manifests against the CRD schemas.
func NewFolder() (*Folder, error) {
	s, err := loadSchemas()
	if err != nil {
		return nil, fmt.Errorf("loading the CRD schemas: %w", err)
	}
	return &Folder{schemas: s}, nil
}

// Read reads every *.yaml, *.yml and *.json file of dir (not its
// subfolders; hidden files are skipped, so editors' temporary files and
// ConfigMap volumes' ..data links do not count). Any file that cannot be read
// fails the whole read, so the caller keeps its last good policy.
func (f *Folder) Read(dir string) (*Objects, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || e.IsDir() {
			continue
		}
		switch filepath.Ext(n) {
		case ".yaml", ".yml", ".json":
			names = append(names, n)
		}
	}
	sort.Strings(names)
	objs := &Objects{Secrets: map[types.NamespacedName]*corev1.Secret{}, ConfigMaps: map[types.NamespacedName]*corev1.ConfigMap{}}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		if err := f.add(objs, data); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
	}
	return objs, nil
}

// add decodes each document of a manifest file into objs.
func (f *Folder) add(objs *Objects, data []byte) error {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if err := f.addDocument(objs, raw); err != nil {
			return fmt.Errorf("document %d: %w", doc, err)
		}
	}
}

func (f *Folder) addDocument(objs *Objects, raw []byte) error {
	var u map[string]any
	if err := yaml.Unmarshal(raw, &u); err != nil {
		return err
	}
	if u == nil {
		return nil // only comments
	}
	apiVersion, _ := u["apiVersion"].(string)
	kind, _ := u["kind"].(string)
	meta, _ := u["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		u["metadata"] = meta
	}
	if ns, _ := meta["namespace"].(string); ns == "" {
		meta["namespace"] = DefaultNamespace
	}
	name, _ := meta["name"].(string)
	if name == "" {
		return fmt.Errorf("%s has no metadata.name", kind)
	}
	switch {
	case apiVersion == stsv1alpha1.GroupVersion.String():
		return f.addCustom(objs, kind, name, u)
	case apiVersion == "v1" && kind == "Secret":
		var s corev1.Secret
		if err := yaml.UnmarshalStrict(mustJSON(u), &s); err != nil {
			return fmt.Errorf("Secret %s: %w", name, err)
		}
		// The API server folds stringData into data; so do we.
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
		s.StringData = nil
		objs.Secrets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = &s
	case apiVersion == "v1" && kind == "ConfigMap":
		var c corev1.ConfigMap
		if err := yaml.UnmarshalStrict(mustJSON(u), &c); err != nil {
			return fmt.Errorf("ConfigMap %s: %w", name, err)
		}
		objs.ConfigMaps[types.NamespacedName{Namespace: c.Namespace, Name: c.Name}] = &c
	default:
		return fmt.Errorf("%s %q of apiVersion %q is not a kind the STS reads (SecurityTokenService, RelyingParty, TrustedIssuer, Secret, ConfigMap)", kind, name, apiVersion)
	}
	return nil
}

// addCustom admits one of the trustbroker kinds through its CRD schema.
func (f *Folder) addCustom(objs *Objects, kind, name string, u map[string]any) error {
	schema, ok := f.schemas[kind]
	if !ok {
		return fmt.Errorf("unknown kind %q in %s", kind, stsv1alpha1.GroupVersion)
	}
	if err := schema.admit(u); err != nil {
		return fmt.Errorf("%s %s is invalid: %w", kind, name, err)
	}
	var into any
	switch kind {
	case "SecurityTokenService":
		o := &stsv1alpha1.SecurityTokenService{}
		objs.SecurityTokenServices = append(objs.SecurityTokenServices, o)
		into = o
	case "RelyingParty":
		o := &stsv1alpha1.RelyingParty{}
		objs.RelyingParties = append(objs.RelyingParties, o)
		into = o
	case "TrustedIssuer":
		o := &stsv1alpha1.TrustedIssuer{}
		objs.TrustedIssuers = append(objs.TrustedIssuers, o)
		into = o
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, into); err != nil {
		return fmt.Errorf("%s %s: %w", kind, name, err)
	}
	return nil
}

func mustJSON(u map[string]any) []byte {
	b, err := yaml.Marshal(u)
	if err != nil {
		panic(err) // u came from yaml.Unmarshal, so it always marshals
	}
	return b
}
