package source

import (
	"context"
	"fmt"
	"io/fs"

	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/trustbroker/trustbroker/config/crd"
)

// crdSchema checks and defaults one kind's objects the way the API server
// does, so that a manifests folder behaves like a cluster: the same defaults,
// and the same refusals with the same messages.
type crdSchema struct {
	structural *structuralschema.Structural
	openAPI    validation.SchemaValidator
	cel        *cel.Validator
}

// loadSchemas reads the embedded CRDs, keyed by kind.
func loadSchemas() (map[string]*crdSchema, error) {
	files, err := fs.Glob(crd.Bases, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	schemas := map[string]*crdSchema{}
	for _, f := range files {
		data, err := fs.ReadFile(crd.Bases, f)
		if err != nil {
			return nil, err
		}
		var def apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &def); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if len(def.Spec.Versions) != 1 || def.Spec.Versions[0].Schema == nil {
			return nil, fmt.Errorf("%s: want exactly one version with a schema", f)
		}
		var props apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(def.Spec.Versions[0].Schema.OpenAPIV3Schema, &props, nil); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		s, err := structuralschema.NewStructural(&props)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		v, _, err := validation.NewSchemaValidator(&props)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		schemas[def.Spec.Names.Kind] = &crdSchema{
			structural: s,
			openAPI:    v,
			cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
		}
	}
	return schemas, nil
}

// admit refuses unknown fields, applies the schema's defaults and validates
// obj (an object decoded from YAML) in place, as `kubectl apply` against the
// API server would.
func (c *crdSchema) admit(obj map[string]any) error {
	var errs field.ErrorList
	for _, path := range pruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Invalid(field.NewPath(path), nil, "unknown field"))
	}
	structuraldefaulting.Default(obj, c.structural)
	errs = append(errs, validation.ValidateCustomResource(nil, obj, c.openAPI)...)
	celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	errs = append(errs, celErrs...)
	return errs.ToAggregate()
}
