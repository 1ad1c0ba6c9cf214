package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// The command's steps against the fake cloud over real HTTP, twice.
func TestRunTwiceAgainstFake(t *testing.T) {
	fake := fakecloud.New(&fakecloud.Config{Fresh: true, BuildTime: 20 * time.Millisecond})
	fake.Start(t)
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	os.WriteFile(path, []byte(fake.CloudsYAML("fake")), 0o600)
	t.Setenv("OS_CLIENT_CONFIG_FILE", path)
	c, err := launch.Open(context.Background(), &launch.Config{Cloud: "fake", PollFirst: 5 * time.Millisecond, PollMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "mykey.pem")
	for pass := 1; pass <= 2; pass++ {
		r, err := run(context.Background(), c, "m1.nano", 1, 64, 1, "aio-tiny", "provider", "provider", "203.0.113.0/24", "203.0.113.101-203.0.113.250", "203.0.113.1", "8.8.4.4", "cirros1", "mykey", key)
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if r.Server.Created != (pass == 1) || r.Flavor.Created != (pass == 1) || r.Subnet.PoolStart.String() != "203.0.113.101" {
			t.Errorf("pass %d: server created=%t flavor created=%t pool %s", pass, r.Server.Created, r.Flavor.Created, r.Subnet.PoolStart)
		}
		printText(r)
	}
	if err := c.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
}
