package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestImageAsTheDockerfileBuildsIt: the tarball is an OCI layout whose one
// image, named for containerd, runs the entrypoint as the non-root user,
// with the binaries executable at the root and the user in /etc/passwd.
func TestImageAsTheDockerfileBuildsIt(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "prog")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "image.tar")
	err := write(options{ref: "example.com/team/app:v1", out: out, entrypoint: "/operator", user: "65532:65532",
		arch: "amd64", files: []file{{src: bin, dst: "/operator"}, {src: bin, dst: "/sts"}}, created: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	unpacked := filepath.Join(dir, "layout")
	if err := os.Mkdir(unpacked, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("tar", "-xf", out, "-C", unpacked).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, b)
	}
	index, err := layout.ImageIndexFromPath(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != 1 || manifest.Manifests[0].Annotations["io.containerd.image.name"] != "example.com/team/app:v1" ||
		manifest.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1" {
		t.Fatalf("index: %+v", manifest.Manifests)
	}
	img, err := index.Image(manifest.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != "/operator" || cfg.Config.User != "65532:65532" || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Fatalf("config: %+v", cfg.Config)
	}
	files := map[string]*tar.Header{}
	var passwd string
	fs := tar.NewReader(mutate.Extract(img))
	for {
		h, err := fs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = h
		if h.Name == "etc/passwd" {
			b, _ := io.ReadAll(fs)
			passwd = string(b)
		}
	}
	for _, name := range []string{"operator", "sts"} {
		if h := files[name]; h == nil || h.Mode&0o111 != 0o111 {
			t.Errorf("/%s missing or not executable: %+v", name, h)
		}
	}
	if h := files["tmp"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("/tmp: %+v", h)
	}
	if !strings.Contains(passwd, "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot user:\n%s", passwd)
	}
}
