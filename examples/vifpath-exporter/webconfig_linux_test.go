package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil"
	"golang.org/x/crypto/bcrypt"
)

// TestIntegrationWebConfig: --web.config.file's basic auth guards the
// metrics and /-/healthy (401 without, 200 with the password), through
// the exporter-toolkit. The node is an empty namespace of the test's own
// (no bridges: nothing is traced or probed).
func TestIntegrationWebConfig(t *testing.T) {
	ns := testutil.NewNetNSAt(t, t.TempDir(), testutil.RandNameN("ex-", 12))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(web, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startExporter(t, "--web.config.file", web, "--netns", ns.Path, "--role", "compute", "--libvirt-uri", "none",
		"--interval", "1s", "--log-level", "warn")
	client := &http.Client{}
	for _, path := range []string{"/metrics", "/-/healthy"} {
		for _, c := range []struct {
			user, pass string
			want       int
		}{{"", "", 401}, {"prometheus", "wrong", 401}, {"prometheus", "s3cret", 200}} {
			req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
			if c.user != "" {
				req.SetBasicAuth(c.user, c.pass)
			}
			r, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != c.want {
				t.Errorf("%s as %q/%q: %d, want %d", path, c.user, c.pass, r.StatusCode, c.want)
			}
		}
	}
}
