//go:build !pkcs11

package main

import (
	"flag"

	"github.com/trustbroker/trustbroker/internal/client"
)

// hsmBench adds nothing in a build without PKCS#11 support.
type hsmBench struct{}

func addHSMFlags(*flag.FlagSet) hsmBench { return hsmBench{} }

func (hsmBench) rows(*benchRun, client.Request, client.Request, []*floor) ([]*benchRow, *floor, error) {
	return nil, nil, nil
}
