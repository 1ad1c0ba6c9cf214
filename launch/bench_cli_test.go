package launch_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// The real CLI baseline of issue 5: python-openstackclient's
// `openstack server create --wait` (Debian python3-openstackclient,
// scripts/deps.d/launch.txt) against the fake cloud on a loopback socket,
// in real time, next to launch.Launch on the same fake.

const (
	cliBuild   = 60 * time.Second // how long a server stays in BUILD
	cliErrorAt = 30 * time.Second // when a failing server goes to ERROR
	cliCloud   = "vifpath-bench"
	// cliTimeout bounds one CLI run: --wait itself has no timeout.
	cliTimeout = 4 * time.Minute
)

// cliResult is one `openstack server create --wait` run.
type cliResult struct {
	exitCode int
	stdout   string
	exited   time.Time
	wall     time.Duration
	log      string // path of the --debug log (stderr), in the benchmark's temp dir
	err      error
}

// runCLIServerCreate runs the real CLI against the fake's clouds.yaml:
// --debug output goes to logPath; the environment holds nothing of the
// caller's (no OS_* of an openrc, no proxy), only PATH, a HOME in dir
// and OS_CLIENT_CONFIG_FILE.
func runCLIServerCreate(ctx context.Context, bin, dir, cloudsFile, logPath, name string) cliResult {
	ctx, cancel := context.WithTimeout(ctx, cliTimeout)
	defer cancel()
	logf, err := os.Create(logPath)
	if err != nil {
		return cliResult{err: err}
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, bin, "--os-cloud", cliCloud, "--debug",
		"server", "create", "--wait", "--flavor", "m1.nano", "--image", "aio-tiny",
		"--network", "provider1", "--security-group", "default",
		"-f", "value", "-c", "id", name)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "LANG=C.UTF-8", "OS_CLIENT_CONFIG_FILE=" + cloudsFile}
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, logf
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	r := cliResult{stdout: out.String(), exited: time.Now(), wall: time.Since(start), log: logPath, exitCode: -1}
	if cmd.ProcessState != nil {
		r.exitCode = cmd.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.err = err
	} else if ctx.Err() != nil {
		r.err = fmt.Errorf("openstack server create --wait still running after %v: %w", cliTimeout, ctx.Err())
	}
	return r
}

// redact replaces every secret in s.
func redact(s string, secrets []string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "<redacted>")
		}
	}
	return s
}

// cliSecrets are what must not be printed: the fake's password, every
// token it issued, every adminPass it answered.
func cliSecrets(fake *fakecloud.Cloud) []string {
	return append(append([]string{fake.Password()}, fake.Tokens()...), fake.AdminPasswords()...)
}

// logTail shows the last lines of the CLI's --debug log, secrets redacted.
func logTail(tb testing.TB, fake *fakecloud.Cloud, path string) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Logf("openstack --debug log %s: %v", path, err)
		return
	}
	lines := strings.Split(strings.TrimRight(redact(string(b), cliSecrets(fake)), "\n"), "\n")
	lines = lines[max(0, len(lines)-40):]
	tb.Logf("tail of openstack --debug log %s:\n%s", path, strings.Join(lines, "\n"))
}

// checkCLILog: the CLI's --debug log holds neither the fake's password nor
// a raw token (keystoneauth prints tokens as {SHA256}…), and every request
// the CLI made went to the fake (the recorded bodies name the real cloud's
// 127.0.0.1:8774 …, which on this machine may be a live all-in-one).
// It returns whether the log holds an adminPass.
func checkCLILog(tb testing.TB, fake *fakecloud.Cloud, base, path string) (adminPass bool) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Error(err)
		return false
	}
	log := string(b)
	if strings.Contains(log, fake.Password()) {
		tb.Errorf("openstack --debug log %s holds the cloud's password", path)
	}
	for _, tok := range fake.Tokens() {
		if strings.Contains(log, tok) {
			tb.Errorf("openstack --debug log %s holds a token in clear", path)
		}
	}
	for _, p := range fake.AdminPasswords() {
		adminPass = adminPass || strings.Contains(log, p)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		_, req, ok := strings.Cut(sc.Text(), "REQ: curl -g -i -X ")
		if !ok {
			continue
		}
		n++
		_, url, _ := strings.Cut(req, " ")
		url = strings.TrimPrefix(url, `"`)
		if !strings.HasPrefix(url, base+"/") {
			tb.Errorf("the CLI sent a request elsewhere than the fake %s: %.120s", base, req)
		}
	}
	if n == 0 {
		tb.Errorf("openstack --debug log %s shows no request", path)
	}
	return adminPass
}

// serverGets returns the GETs of server id the fake saw, in order.
func serverGets(reqs []fakecloud.Request, id string) []fakecloud.Request {
	var out []fakecloud.Request
	for _, r := range reqs {
		if r.ServerID == id && r.Method == "GET" {
			out = append(out, r)
		}
	}
	return out
}

// untilSettled counts the GETs up to and including the first one that
// answered something other than BUILD (a wait loop's polls), and returns
// that GET.
func untilSettled(gets []fakecloud.Request) (int, fakecloud.Request, bool) {
	for i, r := range gets {
		if r.ServerStatus != "BUILD" {
			return i + 1, r, true
		}
	}
	return len(gets), fakecloud.Request{}, false
}

// created returns the ID and time of the server a POST /servers from a
// client (gophercloud or not) created.
func created(reqs []fakecloud.Request, byGophercloud bool) (string, time.Time) {
	for _, r := range reqs {
		if r.Method == "POST" && r.ServerID != "" && isGophercloud(r) == byGophercloud {
			return r.ServerID, r.Time
		}
	}
	return "", time.Time{}
}

func isGophercloud(r fakecloud.Request) bool { return strings.HasPrefix(r.UserAgent, "gophercloud/") }

// cliScenario is one fake with a 60 s build on which the CLI and
// launch.Launch each create a server at the same time.
type cliScenario struct {
	fake             *fakecloud.Cloud
	base             string
	cli              cliResult
	ours             *launch.Server
	oursErr          error
	reqs             []fakecloud.Request
	cliID, ourID     string
	cliPost, ourPost time.Time
	adminPassInLog   bool
}

// runCLIScenario runs on its own goroutine: it reports with b.Errorf and
// b.Logf only, and returns an error where the benchmark cannot go on.
func runCLIScenario(b *testing.B, bin, name string, fail bool) (*cliScenario, error) {
	ctx := context.Background()
	sc := &cliScenario{fake: fakecloud.New(&fakecloud.Config{BuildTime: cliBuild})}
	srv, err := sc.fake.Listen(ctx, "")
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	sc.base = srv.URL()
	dir := b.TempDir()
	cloudsFile := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(cloudsFile, []byte(sc.fake.CloudsYAML(cliCloud)), 0o600); err != nil {
		return nil, err
	}
	cliName, ourName := "cli-"+name, "ours-"+name
	if fail {
		for _, n := range []string{cliName, ourName} {
			sc.fake.FailServer(n, fakecloud.ServerFault{Code: 500, Message: "Exceeded maximum number of retries. Exhausted all hosts available for retrying build failures for instance.", After: cliErrorAt})
		}
	}
	c, err := launch.Open(ctx, &launch.Config{Cloud: cliCloud, CloudsFile: cloudsFile})
	if err != nil {
		return nil, fmt.Errorf("launch.Open against the fake on %s: %w", sc.base, err)
	}
	sc.fake.ResetRequests()
	var wg sync.WaitGroup
	wg.Go(func() {
		sc.cli = runCLIServerCreate(ctx, bin, dir, cloudsFile, filepath.Join(dir, "openstack-debug.log"), cliName)
	})
	wg.Go(func() {
		lctx, cancel := context.WithTimeout(ctx, cliTimeout)
		defer cancel()
		sc.ours, sc.oursErr = c.Launch(lctx, launch.ServerSpec{Name: ourName, Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1", SecurityGroups: []string{"default"}})
	})
	wg.Wait()
	sc.reqs = sc.fake.Requests()
	sc.cliID, sc.cliPost = created(sc.reqs, false)
	sc.ourID, sc.ourPost = created(sc.reqs, true)
	if sc.cli.err != nil || sc.cliID == "" {
		logTail(b, sc.fake, sc.cli.log)
		if sc.cli.err == nil {
			sc.cli.err = errors.New("no server created")
		}
		return nil, fmt.Errorf("openstack server create --wait %s: exit code %d: %w (see the log tail above)", cliName, sc.cli.exitCode, sc.cli.err)
	}
	sc.adminPassInLog = checkCLILog(b, sc.fake, sc.base, sc.cli.log)
	for _, r := range sc.reqs {
		if !isGophercloud(r) && !strings.Contains(r.UserAgent, "python-novaclient") && !strings.Contains(r.UserAgent, "openstacksdk/") {
			b.Errorf("request %s %s from neither launch nor the CLI: User-Agent %q", r.Method, r.Path, r.UserAgent)
		}
	}
	if b.Failed() {
		logTail(b, sc.fake, sc.cli.log)
	}
	return sc, nil
}

// BenchmarkCLIWaitPolls measures, in real time on a loopback socket, what
// issue 5 compares launch with: the real `openstack server create --wait`
// (python-openstackclient; osc_lib's wait_for_status polls, sleeps 5 s,
// and has no timeout) and launch.Launch (backoff from 2 s, ×1.5, capped
// at 10 s), each creating a server with a 60 s build on the same fake at
// the same time; then both on a fake where the servers go to ERROR 30 s
// in. Polls are the GETs of the client's own server the fake saw (told
// apart by User-Agent and server ID), up to the first one that answered
// something other than BUILD. Secrets are redacted from everything
// printed; the CLI's --debug log is in the temp dir, its tail shown on
// failure. One iteration takes about 70 s (both fakes run at once).
func BenchmarkCLIWaitPolls(b *testing.B) {
	bin := testutil.RequireBinary(b, "openstack", "python3-openstackclient")
	var ok, bad *cliScenario
	for b.Loop() {
		// Both fakes at once: the run takes one build, not four.
		var wg sync.WaitGroup
		var okErr, badErr error
		wg.Go(func() { ok, okErr = runCLIScenario(b, bin, "active", false) })
		wg.Go(func() { bad, badErr = runCLIScenario(b, bin, "error", true) })
		wg.Wait()
		if err := errors.Join(okErr, badErr); err != nil {
			b.Fatal(err)
		}
	}

	// ACTIVE after 60 s.
	if ok.oursErr != nil {
		b.Fatalf("launch.Launch: %v", ok.oursErr)
	}
	if ok.cli.exitCode != 0 || lastLine(ok.cli.stdout) != ok.cliID {
		logTail(b, ok.fake, ok.cli.log)
		b.Fatalf("openstack server create --wait: exit %d, stdout ends %q, want the server %s", ok.cli.exitCode, lastLine(ok.cli.stdout), ok.cliID)
	}
	cliGets := serverGets(ok.reqs, ok.cliID)
	cliPolls, cliActive, settled := untilSettled(cliGets)
	if !settled || cliActive.ServerStatus != "ACTIVE" {
		b.Fatalf("the CLI's polls of %s never saw ACTIVE: %d GETs", ok.cliID, len(cliGets))
	}
	ourGets := serverGets(ok.reqs, ok.ourID)
	ourPolls, ourActive, settled := untilSettled(ourGets)
	if !settled || ourActive.ServerStatus != "ACTIVE" {
		b.Fatalf("launch's polls of %s never saw ACTIVE: %d GETs", ok.ourID, len(ourGets))
	}
	if ok.ours.Polls != ourPolls || len(ourGets) != ourPolls {
		b.Errorf("launch.Server.Polls %d; the fake saw %d polls until ACTIVE and %d GETs of the server", ok.ours.Polls, ourPolls, len(ourGets))
	}
	if ourPolls > 10 {
		b.Errorf("launch made %d status polls for a 60 s build; issue 5 allows 10", ourPolls)
	}
	ourReqs, cliReqs := 0, 0
	for _, r := range ok.reqs {
		if isGophercloud(r) {
			ourReqs++
		} else {
			cliReqs++
		}
	}

	// ERROR 30 s in.
	var fe *launch.FaultError
	if !errors.As(bad.oursErr, &fe) {
		b.Fatalf("launch.Launch of a server that goes to ERROR: %v, want a *launch.FaultError", bad.oursErr)
	}
	ourErrPolls, ourErrSeen, _ := untilSettled(serverGets(bad.reqs, bad.ourID))
	cliErrPolls, cliErrSeen, settled := untilSettled(serverGets(bad.reqs, bad.cliID))
	if !settled || cliErrSeen.ServerStatus != "ERROR" || ourErrSeen.ServerStatus != "ERROR" {
		logTail(b, bad.fake, bad.cli.log)
		b.Fatalf("ERROR not seen: the CLI's last answer %q, launch's %q", cliErrSeen.ServerStatus, ourErrSeen.ServerStatus)
	}
	ourErrAt, cliErrAt := bad.ourPost.Add(cliErrorAt), bad.cliPost.Add(cliErrorAt)
	afterErr := func(gets []fakecloud.Request, at time.Time) int {
		n := 0
		for _, r := range gets {
			if !r.Time.Before(at) {
				n++
			}
		}
		return n
	}
	ourPollsAfterErr := afterErr(serverGets(bad.reqs, bad.ourID), ourErrAt)
	cliPollsAfterErr := afterErr(serverGets(bad.reqs, bad.cliID), cliErrAt)
	if ourPollsAfterErr != 1 {
		b.Errorf("launch made %d polls after the server went to ERROR; want 1", ourPollsAfterErr)
	}
	if fe.Polls != ourErrPolls {
		b.Errorf("FaultError.Polls %d, the fake saw %d", fe.Polls, ourErrPolls)
	}
	cliPrintedFault := strings.Contains(bad.cli.stdout, "Exceeded maximum number of retries")
	b.Logf("CLI on ERROR: exit code %d, stdout %q (Nova's fault printed: %v)", bad.cli.exitCode, strings.TrimSpace(redact(bad.cli.stdout, cliSecrets(bad.fake))), cliPrintedFault)
	b.Logf("launch on ERROR: %v", fe)
	if ok.adminPassInLog || bad.adminPassInLog {
		b.Logf("the CLI's --debug log holds the server's adminPass (keystoneauth logs the create's response body); it stays in the temp dir and is redacted from anything printed")
	}

	b.ReportMetric(float64(ourPolls), "polls/launch")
	b.ReportMetric(float64(ourReqs), "requests/launch")
	b.ReportMetric(float64(cliPolls), "cli-wait-polls")
	b.ReportMetric(float64(len(cliGets)), "cli-server-GETs")
	b.ReportMetric(float64(cliReqs), "cli-requests")
	b.ReportMetric(float64(cliPolls)/float64(ourPolls), "x-fewer-polls-than-cli")
	b.ReportMetric(ourActive.Time.Sub(ok.ourPost.Add(cliBuild)).Seconds(), "s-late-to-ACTIVE")
	b.ReportMetric(cliActive.Time.Sub(ok.cliPost.Add(cliBuild)).Seconds(), "cli-s-late-to-ACTIVE")
	b.ReportMetric(ok.cli.wall.Seconds(), "cli-s-wall")
	b.ReportMetric(float64(ourPollsAfterErr), "polls-after-ERROR")
	b.ReportMetric(ourErrSeen.Time.Sub(ourErrAt).Seconds(), "s-to-notice-ERROR")
	b.ReportMetric(float64(cliErrPolls), "cli-polls-to-ERROR")
	b.ReportMetric(float64(cliPollsAfterErr), "cli-polls-after-ERROR")
	b.ReportMetric(cliErrSeen.Time.Sub(cliErrAt).Seconds(), "cli-s-to-notice-ERROR")
	b.ReportMetric(bad.cli.exited.Sub(cliErrAt).Seconds(), "cli-s-to-exit-after-ERROR")
	b.ReportMetric(float64(bad.cli.exitCode), "cli-exit-code-on-ERROR")
	printed := 0.0
	if cliPrintedFault {
		printed = 1
	}
	b.ReportMetric(printed, "cli-printed-fault")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexAny(s, "\r\n"); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}
