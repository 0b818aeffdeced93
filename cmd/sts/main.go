// Command sts is the trustbroker Security Token Service and a small client
// for it:
//
//	sts serve --manifests DIR        serve the STS described by a manifests folder
//	sts request --endpoint URL ...   ask an STS for a token and print it
//	sts bench --manifests DIR        measure tokens/s, latency and CPU per token
//	sts dev-key --out FILE --name N  write a throw-away signing key Secret
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "request":
		err = request(os.Args[2:], os.Stdout)
	case "bench":
		err = bench(os.Args[2:])
	case "dev-key":
		err = devKey(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sts:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sts serve|request|bench|dev-key [flags]  (sts COMMAND -h for the flags)")
	os.Exit(2)
}
