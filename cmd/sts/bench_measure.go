package main

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A floor is one bare signature, the least a token signed that way can
// cost, measured in the same run as the rows compared with it.
type floor struct {
	column string // heading of the ratio column
	name   string // what is measured
	// sign makes one bare signature in this process; measured between the
	// chunks of each row, so that the rows and the floor see the same
	// machine (other jobs, frequency, caches).
	sign func() error
	// external, instead of sign, is measured by another program (openssl)
	// once before the rows and once after.
	external func() (time.Duration, error)
	cpu      time.Duration
	n        int
}

// signerFloor is a bare PKCS#1 v1.5 (or ECDSA) SHA-256 signature with key.
func signerFloor(column, name string, key crypto.Signer) *floor {
	digest := sha256.Sum256([]byte("trustbroker"))
	return &floor{column: column, name: name, sign: func() error {
		_, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
		return err
	}}
}

// opensslFloor is `openssl speed rsa2048`'s CPU time per signature, or nil
// without an openssl command.
func opensslFloor() *floor {
	path, err := exec.LookPath("openssl")
	if err != nil {
		return nil
	}
	return &floor{column: "x OpenSSL", name: "OpenSSL RSA-2048 (openssl speed)", external: func() (time.Duration, error) {
		out, err := exec.Command(path, "speed", "-mr", "-seconds", "2", "rsa2048").Output()
		if err != nil {
			return 0, fmt.Errorf("openssl speed: %w", err)
		}
		// "+F2:<n>:2048:<signatures per second>:<verifications per second>"
		// (OpenSSL 1.1 printed seconds per operation instead).
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Split(line, ":")
			if len(f) >= 4 && f[0] == "+F2" && f[2] == "2048" {
				v, err := strconv.ParseFloat(f[3], 64)
				if err != nil || v <= 0 {
					break
				}
				if v > 1 {
					v = 1 / v
				}
				return time.Duration(v * float64(time.Second)), nil
			}
		}
		return 0, errors.New("openssl speed printed no RSA-2048 signing time")
	}}
}

// measure adds n bare signatures (or one external figure) to the floor.
func (f *floor) measure(n int) error {
	if f.external != nil {
		d, err := f.external()
		f.cpu += d
		f.n++
		return err
	}
	before, err := selfCPU()
	if err != nil {
		return err
	}
	for range n {
		if err := f.sign(); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	after, err := selfCPU()
	f.cpu += after - before
	f.n += n
	return err
}

func (f *floor) perSignature() time.Duration {
	if f.n == 0 {
		return 0
	}
	return f.cpu / time.Duration(f.n)
}

// selfCPU is this process's user+system CPU time, to the microsecond.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// processCPU is a process's user+system CPU time from /proc.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	end := strings.LastIndexByte(string(data), ')')
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, nil
}
