// Command imagebuild writes a container image as an OCI image-layout
// tarball from static binaries, with no Docker engine and no base image to
// pull: a small root layer of its own (the non-root user, /tmp, CA
// certificates) and one layer of binaries, as ko builds images.
//
//	imagebuild -ref ghcr.io/trustbroker/trustbroker:dev -out bin/trustbroker-image.tar \
//	    -entrypoint /operator bin/image/operator=/operator bin/image/sts=/sts
//
// `ctr images import` and `docker load` take the tarball; so does any tool
// that reads OCI layouts (skopeo, crane).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	var opts options
	flag.StringVar(&opts.ref, "ref", "", "the image's name, registry/repository:tag (annotated for importers)")
	flag.StringVar(&opts.out, "out", "", "the tarball to write")
	flag.StringVar(&opts.entrypoint, "entrypoint", "", "the program the image runs")
	flag.StringVar(&opts.user, "user", "65532:65532", "uid:gid the image runs as (65532 is nonroot, as in distroless)")
	flag.StringVar(&opts.arch, "arch", "amd64", "the binaries' architecture")
	flag.StringVar(&opts.caCerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to ship as /etc/ssl/certs/ca-certificates.crt; empty ships none")
	flag.Parse()
	if opts.ref == "" || opts.out == "" || opts.entrypoint == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: imagebuild -ref NAME:TAG -out FILE.tar -entrypoint /PROGRAM SRC=/DST...")
		os.Exit(2)
	}
	for _, arg := range flag.Args() {
		src, dst, ok := strings.Cut(arg, "=")
		if !ok || !strings.HasPrefix(dst, "/") {
			fmt.Fprintf(os.Stderr, "imagebuild: %q is not SRC=/DST\n", arg)
			os.Exit(2)
		}
		opts.files = append(opts.files, file{src: src, dst: dst})
	}
	// Reproducible: the same binaries give the same image.
	opts.created = time.Unix(0, 0).UTC()
	if err := write(opts); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}
