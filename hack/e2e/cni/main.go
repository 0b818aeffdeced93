// Command cni is the network plugin of the `make e2e` node (a CNI plugin):
// each pod gets a veth pair, a /32 from the pod range on its eth0, a
// default route through a link-local gateway the host side answers for,
// and a /32 route from the host. No bridge, no overlay: the node is alone,
// and the host reaches every pod by its own route.
//
// Addresses are leased as files named for the address in the state
// directory, holding the container ID, under an exclusive lock.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// netConf is the plugin's part of the network configuration.
type netConf struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	// Range is the pod range, e.g. 100.64.0.0/24; its first address is
	// kept back.
	Range string `json:"range"`
	// StateDir holds the leases.
	StateDir string `json:"stateDir"`
}

// gateway is the pods' next hop: a link-local address bound to the host
// side's MAC by a permanent neighbour entry in the pod, so that the host
// needs no address on the veth and no proxy ARP.
const gateway = "169.254.1.1"

func main() {
	if err := run(os.Getenv("CNI_COMMAND"), os.Stdin, os.Stdout); err != nil {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"cniVersion": "1.0.0", "code": 999, "msg": err.Error()})
		os.Exit(1)
	}
}

func run(command string, in io.Reader, out io.Writer) error {
	if command == "VERSION" {
		return json.NewEncoder(out).Encode(map[string]any{"cniVersion": "1.0.0", "supportedVersions": []string{"0.4.0", "1.0.0", "1.1.0"}})
	}
	var conf netConf
	if err := json.NewDecoder(in).Decode(&conf); err != nil {
		return fmt.Errorf("reading the network configuration: %w", err)
	}
	id, netns, ifName := os.Getenv("CNI_CONTAINERID"), os.Getenv("CNI_NETNS"), os.Getenv("CNI_IFNAME")
	host := "tbe" + id[:min(len(id), 11)] // at most 15 characters
	switch command {
	case "ADD":
		return add(conf, id, netns, ifName, host, out)
	case "DEL":
		return del(conf, id, host)
	case "CHECK", "STATUS", "GC":
		return nil
	}
	return fmt.Errorf("unknown CNI_COMMAND %q", command)
}

func add(conf netConf, id, netns, ifName, host string, out io.Writer) error {
	addr, err := lease(conf, id)
	if err != nil {
		return err
	}
	nsArgs := []string{"--net=" + netns, "ip"}
	steps := [][]string{
		{"ip", "link", "add", host, "type", "veth", "peer", "name", ifName, "netns", netns},
		{"sysctl", "-q", "-w", "net.ipv4.conf." + host + ".route_localnet=1"},
		{"ip", "link", "set", host, "up"},
		{"ip", "route", "add", addr.String() + "/32", "dev", host, "scope", "link"},
		append(append([]string{"nsenter"}, nsArgs...), "addr", "add", addr.String()+"/32", "dev", ifName),
		append(append([]string{"nsenter"}, nsArgs...), "link", "set", ifName, "up"),
		append(append([]string{"nsenter"}, nsArgs...), "route", "add", gateway, "dev", ifName, "scope", "link"),
		append(append([]string{"nsenter"}, nsArgs...), "route", "add", "default", "via", gateway, "dev", ifName),
	}
	for _, s := range steps {
		if err := sh(s...); err != nil {
			_ = del(conf, id, host)
			return err
		}
	}
	mac, err := os.ReadFile(filepath.Join("/sys/class/net", host, "address"))
	if err != nil {
		_ = del(conf, id, host)
		return err
	}
	if err := sh(append(append([]string{"nsenter"}, nsArgs...), "neigh", "add", gateway, "lladdr", strings.TrimSpace(string(mac)), "dev", ifName, "nud", "permanent")...); err != nil {
		_ = del(conf, id, host)
		return err
	}
	zero := 0
	return json.NewEncoder(out).Encode(map[string]any{
		"cniVersion": conf.CNIVersion,
		"interfaces": []map[string]any{{"name": ifName, "sandbox": netns}},
		"ips":        []map[string]any{{"address": addr.String() + "/32", "gateway": gateway, "interface": &zero}},
		"routes":     []map[string]any{{"dst": "0.0.0.0/0", "gw": gateway}},
	})
}

// del removes the veth pair (its peer and the host route go with it) and
// the lease; what is already gone is no error.
func del(conf netConf, id, host string) error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", host)); err == nil {
		if err := sh("ip", "link", "del", host); err != nil {
			return err
		}
	}
	return release(conf, id)
}

// lease returns the address leased to id, leasing the first free one.
func lease(conf netConf, id string) (netip.Addr, error) {
	prefix, err := netip.ParsePrefix(conf.Range)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("range %q: %w", conf.Range, err)
	}
	unlock, err := lock(conf.StateDir)
	if err != nil {
		return netip.Addr{}, err
	}
	defer unlock()
	for a := prefix.Masked().Addr().Next().Next(); prefix.Contains(a); a = a.Next() {
		f, err := os.OpenFile(filepath.Join(conf.StateDir, a.String()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return netip.Addr{}, err
		}
		_, err = f.WriteString(id)
		return a, errors.Join(err, f.Close())
	}
	return netip.Addr{}, fmt.Errorf("no free address in %s", conf.Range)
}

func release(conf netConf, id string) error {
	unlock, err := lock(conf.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	leases, err := os.ReadDir(conf.StateDir)
	if err != nil {
		return err
	}
	for _, l := range leases {
		path := filepath.Join(conf.StateDir, l.Name())
		if b, err := os.ReadFile(path); err == nil && string(b) == id {
			return os.Remove(path)
		}
	}
	return nil
}

func lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func sh(args ...string) error {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
