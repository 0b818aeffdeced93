package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type options struct {
	ref, out, entrypoint, user, arch, caCerts string
	files                                     []file
	created                                   time.Time
}

// file is a binary copied into the image at dst.
type file struct{ src, dst string }

// write assembles the image and writes it as an OCI layout in a tarball.
func write(o options) error {
	ref, err := name.NewTag(o.ref)
	if err != nil {
		return fmt.Errorf("image name %q: %w", o.ref, err)
	}
	root, err := rootLayer(o)
	if err != nil {
		return err
	}
	bins, err := binaryLayer(o)
	if err != nil {
		return err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		mutate.Addendum{Layer: root, History: v1.History{CreatedBy: "imagebuild: root filesystem", Created: v1.Time{Time: o.created}}},
		mutate.Addendum{Layer: bins, History: v1.History{CreatedBy: "imagebuild: binaries", Created: v1.Time{Time: o.created}}})
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", o.arch, v1.Time{Time: o.created}
	cfg.Config.Entrypoint = []string{o.entrypoint}
	cfg.Config.User = o.user
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if o.caCerts != "" {
		cfg.Config.Env = append(cfg.Config.Env, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	index := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{
		Add: img,
		Descriptor: v1.Descriptor{Annotations: map[string]string{
			// containerd reads the full name; OCI tools the tag.
			"io.containerd.image.name":          ref.Name(),
			"org.opencontainers.image.ref.name": ref.TagStr(),
		}},
	})
	dir, err := os.MkdirTemp("", "imagebuild-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if _, err := layout.Write(dir, index); err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	return tarDir(dir, o.out)
}

// rootLayer holds what the distroless base would: the users, a writable
// /tmp, the non-root user's home and the CA certificates.
func rootLayer(o options) (v1.Layer, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	dirs := []struct {
		name string
		mode int64
		uid  int
	}{{"etc/", 0o755, 0}, {"etc/ssl/", 0o755, 0}, {"etc/ssl/certs/", 0o755, 0}, {"home/", 0o755, 0},
		{"home/nonroot/", 0o700, 65532}, {"tmp/", 0o1777, 0}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, Uid: d.uid, Gid: d.uid, ModTime: o.created}); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"etc/passwd":        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
		"etc/group":         "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n",
		"etc/nsswitch.conf": "hosts: files dns\n",
	}
	if o.caCerts != "" {
		pem, err := os.ReadFile(o.caCerts)
		if err != nil {
			return nil, fmt.Errorf("reading the CA certificates: %w", err)
		}
		files["etc/ssl/certs/ca-certificates.crt"] = string(pem)
	}
	for _, n := range []string{"etc/passwd", "etc/group", "etc/nsswitch.conf", "etc/ssl/certs/ca-certificates.crt"} {
		content, ok := files[n]
		if !ok {
			continue
		}
		if err := addFile(tw, n, 0o644, o.created, strings.NewReader(content), int64(len(content))); err != nil {
			return nil, err
		}
	}
	return layerOf(tw, &b)
}

// binaryLayer holds the binaries, owned by root and executable by all.
func binaryLayer(o options) (v1.Layer, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range o.files {
		if err := addBinary(tw, f, o.created); err != nil {
			return nil, err
		}
	}
	return layerOf(tw, &b)
}

func addBinary(tw *tar.Writer, f file, created time.Time) error {
	in, err := os.Open(f.src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	return addFile(tw, strings.TrimPrefix(f.dst, "/"), 0o755, created, in, st.Size())
}

func addFile(tw *tar.Writer, name string, mode int64, created time.Time, r io.Reader, size int64) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: created}); err != nil {
		return err
	}
	_, err := io.Copy(tw, r)
	return err
}

func layerOf(tw *tar.Writer, b *bytes.Buffer) (v1.Layer, error) {
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := b.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// tarDir writes the OCI layout in dir as the tarball out.
func tarDir(dir, out string) error {
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if info.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755})
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		return addFile(tw, rel, 0o644, time.Unix(0, 0), in, info.Size())
	})
	if err = errors.Join(err, tw.Close(), f.Close()); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}
