package libvirtinspect

import (
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSSHURIMapping(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	home := os.Getenv("HOME")
	for _, tc := range []struct {
		uri      string
		readOnly bool
		want     sshDialer
	}{
		{uri: "qemu+ssh://root@h/system?keyfile=/k&known_hosts=/kh&socket=/s",
			want: sshDialer{addr: "h:22", user: "root", keyFiles: []string{"/k"}, knownHosts: "/kh", verify: "normal", auth: []string{"agent", "privkey", "password"}, socket: "/s"}},
		{uri: "qemu+ssh://u@h:2222/system?no_verify=1",
			want: sshDialer{addr: "h:2222", user: "u", knownHosts: filepath.Join(home, ".ssh", "known_hosts"), verify: "ignore", auth: []string{"agent", "privkey", "password"}, socket: DefaultSocket}},
		{uri: "qemu+libssh://u@h/system?known_hosts_verify=auto&sshauth=privkey,agent", readOnly: true,
			want: sshDialer{addr: "h:22", user: "u", knownHosts: "/xdg/libvirt/known_hosts", verify: "auto", auth: []string{"privkey", "agent"}, socket: DefaultReadOnlySocket}},
		{uri: "qemu+libssh2://u:pw@[2001:db8::1]:22/system?sshauth=password,keyboard-interactive&known_hosts_verify=ignore",
			want: sshDialer{addr: "[2001:db8::1]:22", user: "u", password: "pw", knownHosts: "/xdg/libvirt/known_hosts", verify: "ignore", auth: []string{"password"}, socket: DefaultSocket}},
	} {
		u, err := url.Parse(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		transport := strings.SplitN(u.Scheme, "+", 2)[1]
		d, err := newSSHDialer(u, transport, tc.readOnly, time.Second)
		if err != nil {
			t.Errorf("%s: %v", tc.uri, err)
			continue
		}
		tc.want.timeout = time.Second
		if d.addr != tc.want.addr || d.user != tc.want.user || d.password != tc.want.password ||
			!slices.Equal(d.keyFiles, tc.want.keyFiles) || d.knownHosts != tc.want.knownHosts ||
			d.verify != tc.want.verify || !slices.Equal(d.auth, tc.want.auth) || d.socket != tc.want.socket || d.timeout != tc.want.timeout {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.uri, *d, tc.want)
		}
	}
	// Default keys: those of ~/.ssh that exist, in OpenSSH's order.
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	for _, n := range []string{"id_rsa", "id_ed25519"} {
		os.WriteFile(filepath.Join(home, ".ssh", n), nil, 0o600)
	}
	u, _ := url.Parse("qemu+ssh://h/system")
	d, err := newSSHDialer(u, "ssh", false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(home, ".ssh", "id_ed25519"), filepath.Join(home, ".ssh", "id_rsa")}; !slices.Equal(d.keyFiles, want) {
		t.Errorf("default keys %v, want %v", d.keyFiles, want)
	}
	for _, bad := range []string{
		"qemu+ssh://h/system?known_hosts_verify=maybe",
		"qemu+ssh://h/system?sshauth=gssapi",
		"qemu+ssh:///system",
	} {
		if _, err := NewFromConfig(&Config{URI: bad}); err == nil {
			t.Errorf("NewFromConfig(%q) accepted", bad)
		}
	}
}

func TestSSHURIRedacted(t *testing.T) {
	c, err := NewFromConfig(&Config{URI: "qemu+ssh://root:s3cret@h/system?keyfile=/home/x/.ssh/id_secret&socket=/s"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, secret := range []string{"s3cret", "id_secret"} {
		if strings.Contains(c.URI(), secret) {
			t.Errorf("URI() = %q shows %q", c.URI(), secret)
		}
	}
	if want := "qemu+ssh://root:xxxxx@h/system?keyfile=redacted&socket=/s"; c.URI() != want {
		t.Errorf("URI() = %q, want %q", c.URI(), want)
	}
	// Non-ssh URIs are shown as given.
	c2, _ := NewFromConfig(&Config{URI: "qemu+tcp://h/system"})
	defer c2.Close()
	if c2.URI() != "qemu+tcp://h/system" {
		t.Errorf("URI() = %q", c2.URI())
	}
	msg := (&OpError{Op: "connect", Err: errors.Join(ErrUnavailable, &sshError{errors.New("x")})}).Error()
	if !strings.Contains(msg, "sshd") || strings.Contains(msg, "libvirtd -d") {
		t.Errorf("ssh OpError hint: %s", msg)
	}
}
