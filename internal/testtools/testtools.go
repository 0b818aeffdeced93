// Package testtools starts the real programs tests run against (Redis, and
// the verifiers and clients found on the PATH), and holds the helpers the
// tests of several packages share: the shared message corpus, testdata and
// golden files, test keys and certificates. It depends on no other package
// of the project, so any package's tests may use it.
package testtools

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Tool returns the path of an external program the test needs. Missing, it
// skips the test, or fails it under CI=true, where every tool must be there.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, fmt.Sprintf("%s is not installed (run `make test-deps` as root)", name))
	}
	return path
}

// Missing skips the test because something it runs against is not
// installed, or fails it under CI=true, where everything must be there.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// FreePort returns a loopback address with a port that was free a moment ago.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartRedis runs a private redis-server on a free loopback port, with the
// password when not empty, until the test ends, and returns its address.
func StartRedis(t testing.TB, password string) string {
	t.Helper()
	bin := Tool(t, "redis-server")
	addr := FreePort(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	args := []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log")}
	if password != "" {
		args = append(args, "--requirepass", password)
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatal(fmt.Sprintf("redis-server did not start; see %s", filepath.Join(dir, "redis.log")))
	return ""
}

// RepoRoot finds the repository root (the folder holding go.mod) above the
// test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// FindRepoRoot is RepoRoot for code that runs outside a test (TestMain).
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
