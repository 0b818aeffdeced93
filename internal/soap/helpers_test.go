package soap

import (
	"errors"
	"flag"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// mustFault asserts err is a *Fault with the given code and returns it.
func mustFault(t *testing.T, err error, code FaultCode) *Fault {
	t.Helper()
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *Fault", err, err)
	}
	if f.Code != code {
		t.Fatalf("fault code = %+v, want %+v (reason %q, cause %v)", f.Code, code, f.Reason, f.Cause)
	}
	return f
}
