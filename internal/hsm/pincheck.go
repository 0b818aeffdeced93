//go:build pkcs11

package hsm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/miekg/pkcs11"
)

// A login belongs to the process: while it is logged in to a token, the
// module takes any PIN, and logging out to test one would end the login
// the open keys sign with. So a changed PIN is tested by this program run
// again as a process of its own, which logs in to the token and out, and
// answers with the module's return value. The PIN goes through a pipe,
// never the command line or the environment.

// pinCheckEnv makes the program check a PIN instead of starting.
const pinCheckEnv = "TRUSTBROKER_PKCS11_PIN_CHECK"

// pinCheckTimeout bounds the check, as a login to a network HSM may hang.
const pinCheckTimeout = 30 * time.Second

func init() {
	if os.Getenv(pinCheckEnv) == "1" {
		os.Exit(servePINCheck(os.Stdin, os.Stdout))
	}
}

type pinCheck struct {
	Module, TokenLabel, PIN string
}

// pinCheckResult is the module's return value, or another failure.
type pinCheckResult struct {
	CKR uint   `json:",omitempty"`
	Err string `json:",omitempty"`
}

// checkPINApart logs in to the token with cfg's PIN in a process of its own.
func checkPINApart(cfg Config) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("checking the changed PIN: %w", err)
	}
	req, err := json.Marshal(pinCheck{Module: cfg.Module, TokenLabel: cfg.TokenLabel, PIN: cfg.PIN})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), pinCheckTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), pinCheckEnv+"=1")
	var out, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(req), &out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("checking the changed PIN in a process of its own: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res pinCheckResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return fmt.Errorf("checking the changed PIN in a process of its own: unreadable answer: %w", err)
	}
	switch {
	case res.CKR != 0:
		return pkcs11.Error(res.CKR)
	case res.Err != "":
		return errors.New(res.Err)
	}
	return nil
}

// servePINCheck answers checkPINApart: it reads the request from in and
// writes the result to out; its exit code is not 0 only when the request
// could not be read.
func servePINCheck(in io.Reader, out io.Writer) int {
	var req pinCheck
	if err := json.NewDecoder(io.LimitReader(in, 64<<10)).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "reading the PIN check request:", err)
		return 2
	}
	var res pinCheckResult
	var p11 pkcs11.Error
	if err := login(req); errors.As(err, &p11) {
		res.CKR = uint(p11)
	} else if err != nil {
		res.Err = err.Error()
	}
	if err := json.NewEncoder(out).Encode(res); err != nil {
		return 2
	}
	return 0
}

func login(req pinCheck) error {
	p := pkcs11.New(req.Module)
	if p == nil {
		return errors.New("cannot load the module")
	}
	defer p.Destroy()
	if err := p.Initialize(); err != nil {
		return err
	}
	defer p.Finalize()
	slot, err := findSlot(p, req.TokenLabel)
	if err != nil {
		return err
	}
	session, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return err
	}
	defer p.CloseSession(session)
	if err := p.Login(session, pkcs11.CKU_USER, req.PIN); err != nil {
		return err
	}
	return p.Logout(session)
}
