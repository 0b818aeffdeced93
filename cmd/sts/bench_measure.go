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
	"slices"
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
	samples  []time.Duration // CPU per signature, one per measure
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

// measure adds a sample of n bare signatures (or one external figure) to
// the floor, and returns its CPU per signature.
func (f *floor) measure(n int) (time.Duration, error) {
	if f.external != nil {
		d, err := f.external()
		f.samples = append(f.samples, d)
		return d, err
	}
	before, err := selfCPU()
	if err != nil {
		return 0, err
	}
	for range n {
		if err := f.sign(); err != nil {
			return 0, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	after, err := selfCPU()
	d := (after - before) / time.Duration(n)
	f.samples = append(f.samples, d)
	return d, err
}

// perSignature is the median sample.
func (f *floor) perSignature() time.Duration { return median(f.samples) }

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianRatio(r []float64) float64 {
	if len(r) == 0 {
		return 0
	}
	s := slices.Clone(r)
	slices.Sort(s)
	return s[len(s)/2]
}

// selfCPU is this process's user+system CPU time, to the microsecond.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// processCPU is a process's CPU time, the sum over its threads of the
// nanoseconds each has run (/proc/PID/task/TID/schedstat).
func processCPU(pid int) (time.Duration, error) {
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "schedstat"))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("reading CPU time of process %d: no threads", pid)
	}
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // the thread ended; Go keeps its threads, so this is rare
		}
		fields := strings.Fields(string(data))
		if len(fields) < 1 {
			return 0, errors.New("unexpected /proc schedstat format")
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading CPU time: %w", err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}
