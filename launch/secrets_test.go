package launch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// TestNoSecretInLogsOrErrors runs the whole walkthrough, failures included
// (retries, a wrong password, an ERROR server, an expired token, a console
// error), with a debug-level logger that keeps every record and every
// attribute, collects every error, and greps all of it for the password,
// every token and adminPass the fake issued, and the private key written.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{Fresh: true, BuildTime: 15 * time.Second})
		log, records := newRecorder()
		var errs []error
		keep := func(err error) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		ctx := context.Background()

		// A wrong password first.
		bad := filepath.Join(t.TempDir(), "clouds.yaml")
		os.WriteFile(bad, []byte(strings.Replace(fake.CloudsYAML("fake"), fake.Password(), "Wr0ng-Secret-Pw", 1)), 0o600)
		_, err := launch.Open(ctx, &launch.Config{Cloud: "fake", CloudsFile: bad, Logger: log, HTTPClient: &http.Client{Transport: fake.Transport()}})
		if err == nil {
			t.Fatal("wrong password accepted")
		}
		keep(err)

		c := openFake(t, fake, &launch.Config{Logger: log, MaxAttempts: 3})
		fake.Inject(fakecloud.Fault{Method: "POST", Path: "/compute/v2.1/servers", Status: 503})
		fake.Inject(fakecloud.Fault{Method: "GET", Path: "/v2.0/networks", Status: 429, RetryAfter: "2"})
		fake.Inject(fakecloud.Fault{Method: "GET", Path: "/compute/v2.1/servers/fa", Reset: true})
		key := filepath.Join(t.TempDir(), "mykey")
		r, err := walk(ctx, c, key)
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
		keep(err)
		pem, err := os.ReadFile(key)
		if err != nil {
			t.Fatalf("private key: %v", err)
		}
		fake.ExpireTokens()
		_, err = walk(ctx, c, key+"2")
		keep(err)

		fake.FailServer("broken", fakecloud.ServerFault{Code: 500, Message: "Exceeded maximum number of retries.", BindingFailed: true})
		_, err = c.Launch(ctx, launch.ServerSpec{Name: "broken", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider"})
		if !errors.Is(err, launch.ErrServerError) {
			t.Fatalf("broken server: %v", err)
		}
		keep(err)
		fake.Inject(fakecloud.Fault{Method: "GET", Path: "/flavors/detail", Status: 500, Times: 10})
		_, err = c.FindFlavor(ctx, "m1.nano")
		keep(err)
		fake.SetConsole(false)
		_, err = c.ConsoleURL(ctx, r.Server.ID)
		keep(err)
		keep(c.Cleanup(ctx))

		if len(errs) < 4 {
			t.Fatalf("only %d errors collected: the run did not exercise the failure paths", len(errs))
		}
		var all strings.Builder
		for _, rec := range *records {
			all.WriteString(rec + "\n")
		}
		for _, e := range errs {
			all.WriteString(e.Error() + "\n")
			all.WriteString(fmt.Sprintf("%+v %#v\n", e, e))
			if j, err := json.Marshal(e); err == nil {
				all.Write(j)
			}
		}
		text := all.String()
		if !strings.Contains(text, "openstack request") || !strings.Contains(text, "retrying transient") || !strings.Contains(text, "went to ERROR") {
			t.Fatalf("the log lacks the records the test relies on:\n%s", text)
		}

		secrets := map[string]string{"password": fake.Password(), "wrong password": "Wr0ng-Secret-Pw"}
		for i, tok := range fake.Tokens() {
			secrets[fmt.Sprintf("token %d", i)] = tok
		}
		for i, p := range fake.AdminPasswords() {
			secrets[fmt.Sprintf("adminPass %d", i)] = p
		}
		if len(fake.Tokens()) < 2 || len(fake.AdminPasswords()) < 2 {
			t.Fatalf("the run issued %d tokens and %d adminPass: too few to prove anything", len(fake.Tokens()), len(fake.AdminPasswords()))
		}
		for i, line := range strings.Split(string(pem), "\n") {
			if len(line) > 20 && !strings.HasPrefix(line, "-----") {
				secrets[fmt.Sprintf("private key line %d", i)] = line
			}
		}
		for what, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s %q appears in the logs or errors", what, s)
			}
		}
		t.Logf("%d log records and %d errors (%d bytes) checked for %d secrets", len(*records), len(errs), len(text), len(secrets))
	})
}
