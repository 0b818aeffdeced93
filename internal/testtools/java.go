package testtools

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// slf4jNop silences slf4j's start-up warning when it is installed.
const slf4jNop = "/usr/share/java/slf4j-nop.jar"

// JavaClasspath returns the jars, which the Debian package pkg installs, as
// a class path, with slf4j-nop.jar added when it is there. A missing jar
// skips the test (see Missing).
func JavaClasspath(t testing.TB, pkg string, jars ...string) string {
	t.Helper()
	for _, jar := range jars {
		if _, err := os.Stat(jar); err != nil {
			Missing(t, fmt.Sprintf("%s is missing (install %s)", jar, pkg))
		}
	}
	cp := strings.Join(jars, string(os.PathListSeparator))
	if _, err := os.Stat(slf4jNop); err == nil {
		cp += string(os.PathListSeparator) + slf4jNop
	}
	return cp
}

// JavaPeer compiles the Java program src (its public class named as the
// file) against the jars of the Debian package pkg, and returns a function
// that runs a batch of commands in one JVM: each command is one line of
// tab-separated fields on the program's standard input, and the program
// answers each with one line.
func JavaPeer(t testing.TB, src, pkg string, jars ...string) func(commands [][]string) []string {
	t.Helper()
	javac := Tool(t, "javac")
	java := Tool(t, "java")
	cp := JavaClasspath(t, pkg, jars...)
	classes := t.TempDir()
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(javac, "-nowarn", "-cp", cp, "-d", classes, abs).CombinedOutput(); err != nil {
		t.Fatalf("javac failed: %v\n%s", err, msg)
	}
	cp = classes + string(os.PathListSeparator) + cp
	class := strings.TrimSuffix(filepath.Base(src), ".java")
	return func(commands [][]string) []string {
		t.Helper()
		var stdin bytes.Buffer
		for _, c := range commands {
			stdin.WriteString(strings.Join(c, "\t") + "\n")
		}
		cmd := exec.Command(java, "-cp", cp, class)
		cmd.Stdin = &stdin
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s run failed: %v\n%s", class, err, stderr.String())
		}
		var answers []string
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			answers = append(answers, sc.Text())
		}
		if len(answers) != len(commands) {
			t.Fatalf("%s answered %d of %d commands:\n%s\n%s", class, len(answers), len(commands), out, stderr.String())
		}
		return answers
	}
}
