// Package crd embeds the generated CustomResourceDefinitions, so that the
// standalone STS applies the same schema defaults to a manifests folder as
// the API server applies in a cluster.
package crd

import "embed"

// Bases holds bases/*.yaml, as `make manifests` writes them.
//
//go:embed bases/*.yaml
var Bases embed.FS
