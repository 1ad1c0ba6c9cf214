package trace

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationRenderGraphviz renders every golden DOT file (the demo's
// healthy trace and each break) and two node pictures (8 and 200 NICs)
// with Graphviz's `dot -Tsvg`: each must render, with nothing on stderr
// (no warning).
func TestIntegrationRenderGraphviz(t *testing.T) {
	dotBin := testutil.RequireBinary(t, "dot", "graphviz")
	files, err := filepath.Glob("testdata/render/*.dot")
	if err != nil || len(files) < 9 {
		t.Fatalf("golden DOT files: %v, %v (want the healthy trace and 8 breaks)", files, err)
	}
	inputs := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = b
	}
	for _, n := range []int{8, 200} {
		var b bytes.Buffer
		if err := syntheticNode(t, n).WriteDOT(&b); err != nil {
			t.Fatal(err)
		}
		inputs["node of "+itoa(n)+" NICs"] = b.Bytes()
	}
	for name, in := range inputs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, dotBin, "-Tsvg")
		cmd.Stdin = bytes.NewReader(in)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		err := cmd.Run()
		cancel()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("dot -Tsvg %s: %v; stderr:\n%s", name, err, stderr.String())
			continue
		}
		if !bytes.Contains(out.Bytes(), []byte("<svg")) || !bytes.Contains(out.Bytes(), []byte("</svg>")) {
			t.Errorf("dot -Tsvg %s: no SVG out", name)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// external matches a reference the browser would load from elsewhere: a
// src or href to a URL with a scheme or a protocol-relative one, a CSS
// url() or @import that is not a fragment.
var external = regexp.MustCompile(`(?i)(?:\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//))|url\(\s*["']?\s*[^#"'\s)]|@import`)

// TestIntegrationReportChromium opens the HTML reports of the demo's
// tap-down trace and of a 200-NIC node in headless Chromium: a screenshot
// is taken and shows the report (the verdict colours are painted), the
// rendered DOM has the verdict and the first failing hop's cause, the
// page holds no script and no external reference, Chromium's network log
// shows no request from the page, and it prints to PDF.
func TestIntegrationReportChromium(t *testing.T) {
	chromium := testutil.RequireBinary(t, "chromium", "chromium")
	rec := loadRecording(t, "tap-down")
	first, h, ok := rec.Broken.firstFailing()
	if !ok || h.Kind != KindTap || h.Cause == "" {
		t.Fatalf("recording: first failing hop %d %+v", first, h)
	}
	// The control: a page with one external image is caught.
	t.Run("control", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "control.html")
		if err := os.WriteFile(path, []byte(`<!DOCTYPE html><html><body><p>control</p><img src="http://198.51.100.7/pixel.png"></body></html>`), 0o644); err != nil {
			t.Fatal(err)
		}
		netlog := filepath.Join(dir, "net.json")
		runChromium(t, chromium, append(chromiumFlags(dir), "--screenshot="+filepath.Join(dir, "shot.png"), "--log-net-log="+netlog, "--net-log-capture-mode=Everything", "file://"+path)...)
		if reqs, _ := pageRequests(t, netlog); len(reqs) != 1 || reqs[0] != "http://198.51.100.7/pixel.png" {
			t.Errorf("control page: requests seen %q, want its one external image", reqs)
		}
		if m := external.FindString(`<img src="http://198.51.100.7/pixel.png">`); m == "" {
			t.Error("the source check misses an external image")
		}
	})
	for _, c := range []struct {
		name      string
		write     func(*bytes.Buffer) error
		verdict   string
		mustShow  []string
		minHeight int
	}{
		{"trace", func(b *bytes.Buffer) error { return rec.Broken.WriteHTML(b) }, "FAIL",
			[]string{h.Cause, h.Next, "First failing hop: hop 5, tap", rec.Broken.Tap, "VM's IP"}, 0},
		{"node", func(b *bytes.Buffer) error { return syntheticNode(t, 200).WriteHTML(b) }, "FAIL",
			[]string{"healthy VM NICs", h.Cause, "tapdeadbeef-00"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var page bytes.Buffer
			if err := c.write(&page); err != nil {
				t.Fatal(err)
			}
			src := page.String()
			if m := external.FindString(src); m != "" {
				t.Errorf("the report references something outside itself: %q", m)
			}
			if strings.Contains(strings.ToLower(src), "<script") {
				t.Error("the report holds a script")
			}
			path := filepath.Join(dir, "report.html")
			if err := os.WriteFile(path, page.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			url := "file://" + path
			shot, netlog := filepath.Join(dir, "shot.png"), filepath.Join(dir, "net.json")
			common := chromiumFlags(dir)
			runChromium(t, chromium, append(common, "--window-size=1400,2000", "--screenshot="+shot,
				"--log-net-log="+netlog, "--net-log-capture-mode=Everything", url)...)
			f, err := os.Open(shot)
			if err != nil {
				t.Fatalf("no screenshot: %v", err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			// The FAIL badge and failing boxes are painted #ff9c8c.
			red := 0
			bnd := img.Bounds()
			for y := bnd.Min.Y; y < bnd.Max.Y; y += 2 {
				for x := bnd.Min.X; x < bnd.Max.X; x += 2 {
					r, g, b, _ := img.At(x, y).RGBA()
					if r>>8 > 240 && g>>8 > 140 && g>>8 < 170 && b>>8 > 125 && b>>8 < 155 {
						red++
					}
				}
			}
			if bnd.Dx() != 1400 || red < 50 {
				t.Errorf("screenshot %v has %d sampled pixels of the fail colour: the report did not paint", bnd, red)
			}
			// The network log: the page asked for nothing but itself.
			// (Chromium's own background requests, initiator "not an
			// origin", go to the dead proxy and are not the page's.)
			reqs, all := pageRequests(t, netlog)
			for _, u := range reqs {
				t.Errorf("the report made Chromium request %q", u)
			}
			if all == 0 {
				t.Errorf("the net log shows no request at all: is it a net log?")
			}
			// The rendered DOM: the verdict and the cause.
			dom := runChromium(t, chromium, append(common, "--dump-dom", url)...)
			if !regexp.MustCompile(`id="verdict"[^>]*>` + c.verdict + `<`).MatchString(dom) {
				t.Errorf("rendered page lacks the verdict %s", c.verdict)
			}
			for _, want := range c.mustShow {
				if !strings.Contains(dom, htmlText(want)) {
					t.Errorf("rendered page lacks %q", want)
				}
			}
			// It prints: Chromium's PDF of it has pages.
			pdf := filepath.Join(dir, "report.pdf")
			runChromium(t, chromium, append(common, "--no-pdf-header-footer", "--print-to-pdf="+pdf, url)...)
			pb, err := os.ReadFile(pdf)
			pages := regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pb, -1)
			if err != nil || !bytes.HasPrefix(pb, []byte("%PDF-")) || len(pages) == 0 {
				t.Errorf("print to PDF: %v, %d bytes, %d pages", err, len(pb), len(pages))
			}
			t.Logf("%s: %d bytes of HTML, screenshot %dx%d, %d requests in the net log, none from the page; printed to %d PDF pages", c.name, page.Len(), bnd.Dx(), bnd.Dy(), all, len(pages))
		})
	}
}

// chromiumFlags are the headless flags of every run: a profile in dir,
// no first-run or background services, and every request sent to a dead
// proxy on loopback with names unresolvable, so nothing leaves the
// machine whatever the page or the browser asks for.
func chromiumFlags(dir string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-default-apps", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"}
}

// pageRequests reads a Chromium net log and returns the URLs of the
// requests a page made (URL_REQUEST_START_JOB whose initiator is an
// origin or "null", the file:// origin) other than file: and data: URLs,
// and how many requests it saw in all.
func pageRequests(t *testing.T, path string) (page []string, all int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("net log: %v", err)
	}
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int `json:"type"`
			Params struct {
				URL       string `json:"url"`
				Initiator string `json:"initiator"`
			} `json:"params"`
		} `json:"events"`
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatalf("net log %s: %v", path, err)
	}
	start, ok := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	if !ok {
		t.Fatalf("net log %s has no URL_REQUEST_START_JOB event type", path)
	}
	for _, e := range log.Events {
		if e.Type != start || e.Params.URL == "" {
			continue
		}
		all++
		u := e.Params.URL
		if e.Params.Initiator == "not an origin" || strings.HasPrefix(u, "file:") || strings.HasPrefix(u, "data:") {
			continue
		}
		page = append(page, u)
	}
	return page, all
}

// htmlText is s as a serialised DOM writes text (& < > escaped).
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// runChromium runs chromium with args and returns its stdout.
func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a loaded 2-core machine: one run took 40 s
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	// Its own process group: on a timeout the zygote and renderers go
	// with the browser.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out.String()
}

// mermaidVersion is the Mermaid release the golden diagrams are checked
// with (npm package mermaid; its dist/mermaid.min.js is one self-contained
// file).
const mermaidVersion = "11.17.2"

// mermaidJS returns the path of mermaid.min.js, fetched once with `npm
// pack mermaid@<version>` into /var/cache/vifpath (when writable, else
// the test's temporary directory).
func mermaidJS(t *testing.T) string {
	t.Helper()
	npm := testutil.RequireBinary(t, "npm", "npm")
	dir := filepath.Join("/var/cache/vifpath", "mermaid-"+mermaidVersion)
	js := filepath.Join(dir, "mermaid.min.js")
	if _, err := os.Stat(js); err == nil {
		return js
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		dir = t.TempDir()
		js = filepath.Join(dir, "mermaid.min.js")
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--pack-destination", tmp, "mermaid@"+mermaidVersion)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm pack mermaid@%s: %v\n%s", mermaidVersion, err, out)
	}
	tgz := filepath.Join(tmp, "mermaid-"+mermaidVersion+".tgz")
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no package/dist/mermaid.min.js: %v", tgz, err)
		}
		if h.Name != "package/dist/mermaid.min.js" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		part := js + ".part"
		if err := os.WriteFile(part, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(part, js); err != nil {
			t.Fatal(err)
		}
		return js
	}
}

// TestIntegrationMermaidRenders parses and renders every golden Mermaid
// file and two node pictures (8 and 200 NICs) with Mermaid itself, in
// headless Chromium: each must render to SVG without an error.
func TestIntegrationMermaidRenders(t *testing.T) {
	chromium := testutil.RequireBinary(t, "chromium", "chromium")
	js := mermaidJS(t)
	files, err := filepath.Glob("testdata/render/*.mmd")
	if err != nil || len(files) < 9 {
		t.Fatalf("golden Mermaid files: %v, %v", files, err)
	}
	diagrams := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		diagrams[filepath.Base(f)] = string(b)
	}
	for _, n := range []int{8, 200} {
		var b bytes.Buffer
		if err := syntheticNode(t, n).WriteMermaid(&b); err != nil {
			t.Fatal(err)
		}
		diagrams["node-"+itoa(n)+".mmd"] = b.String()
	}
	// A broken diagram must be caught.
	diagrams["control-broken.mmd"] = "flowchart LR\n  a[\"x\"] --> \n  subgraph\n"
	dir := t.TempDir()
	src, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mermaid.min.js"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(diagrams)
	if err != nil {
		t.Fatal(err)
	}
	page := `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><pre id="out">pending</pre>
<script src="mermaid.min.js"></script>
<script>
const ds = ` + string(data) + `;
mermaid.initialize({startOnLoad: false, securityLevel: 'strict', maxEdges: 5000});
(async () => {
  const res = [];
  let i = 0;
  for (const name of Object.keys(ds).sort()) {
    try { await mermaid.parse(ds[name]); const r = await mermaid.render('g' + (i++), ds[name]); res.push(name + ' OK ' + r.svg.length); }
    catch (e) { res.push(name + ' ERROR ' + String(e.message || e).split('\n').join(' ')); }
  }
  document.getElementById('out').textContent = res.join('\n');
})();
</script></body></html>`
	path := filepath.Join(dir, "check.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := runChromium(t, chromium, append(chromiumFlags(dir), "--allow-file-access-from-files", "--virtual-time-budget=30000", "--dump-dom", "file://"+path)...)
	m := regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no result in the page:\n%.2000s", dom)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(m[1]), "\n") {
		name, rest, _ := strings.Cut(l, " ")
		got[name] = rest
	}
	for name := range diagrams {
		res, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: not rendered (page said %q)", name, m[1])
		case name == "control-broken.mmd":
			if !strings.HasPrefix(res, "ERROR") {
				t.Errorf("the broken control diagram rendered: %s", res)
			}
		case !strings.HasPrefix(res, "OK "):
			t.Errorf("Mermaid %s: %s", name, res)
		}
	}
	t.Logf("Mermaid %s rendered %d diagrams", mermaidVersion, len(diagrams)-1)
}
