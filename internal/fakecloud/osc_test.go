package fakecloud_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/fakecloud"
)

// fetch sends one request to the fake with token (none when "") and
// returns the status and body.
func fetch(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	req.Header.Set("User-Agent", "fakecloud-test/1")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func token(t *testing.T, s *fakecloud.Server) string {
	t.Helper()
	nova, _ := clients(t, s, "fake-secret-password")
	return nova.ProviderClient.Token()
}

// TestVersionDiscovery: what keystoneauth and openstacksdk read first.
// Keystone's version documents and the roots of Nova, Neutron, Glance and
// Placement answer without a token, and every href in them (recorded ones named
// 127.0.0.1:8774, :9696, :9292) leads back to the fake.
func TestVersionDiscovery(t *testing.T) {
	s := start(t, nil)
	for _, tc := range []struct {
		path, wantHref string
		status         int
	}{
		{"/identity/", "/identity/v3/", 300},
		{"/identity/v3/", "/identity/v3/", 200},
		{"/identity/v3", "/identity/v3/", 200},
		{"/compute/", "/compute/v2.1/", 200},
		{"/network/", "/network/v2.0/", 200},
		{"/image/", "/image/v2/", 300},
		{"/image", "/image/v2/", 300},
	} {
		st, b := fetch(t, "GET", s.URL()+tc.path, "", "")
		if st != tc.status {
			t.Errorf("GET %s without a token: %d, want %d: %s", tc.path, st, tc.status, b)
		}
		if !strings.Contains(string(b), `"`+s.URL()+tc.wantHref+`"`) {
			t.Errorf("GET %s: no href %s%s in %s", tc.path, s.URL(), tc.wantHref, b)
		}
		for _, rec := range []string{":8774", ":9696", ":9292"} {
			if strings.Contains(string(b), rec) {
				t.Errorf("GET %s: the recorded endpoint %s leaks out: %s", tc.path, rec, b)
			}
		}
	}
	var v3 struct {
		Version struct {
			ID, Status string
		}
	}
	_, b := fetch(t, "GET", s.URL()+"/identity/v3/", "", "")
	if err := json.Unmarshal(b, &v3); err != nil || v3.Version.ID != "v3.14" || v3.Version.Status != "stable" {
		t.Errorf("keystone v3 document %s: %+v %v", b, v3, err)
	}
	// Placement's root answers without a token too; the APIs themselves,
	// and paths no service has, still need one; under /identity/ an
	// unknown path is a 404.
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/placement", 200},
		{"/placement/", 200},
		{"/compute/v2.1/flavors", 401},
		{"/placement/resource_providers", 401},
		{"/nowhere/at/all", 401},
		{"/identity/v3/nothing-here", 404},
	} {
		if st, b := fetch(t, "GET", s.URL()+tc.path, "", ""); st != tc.status {
			t.Errorf("GET %s without a token: %d, want %d: %s", tc.path, st, tc.status, b)
		}
	}
}

// TestRecordedLinksRebased: links inside recorded objects (a flavor's)
// name the fake, not the recorded cloud's nova-api.
func TestRecordedLinksRebased(t *testing.T) {
	s := start(t, nil)
	st, b := fetch(t, "GET", s.URL()+"/compute/v2.1/flavors/0", token(t, s), "")
	if st != 200 {
		t.Fatalf("GET flavor 0: %d %s", st, b)
	}
	var f struct {
		Flavor struct {
			Links []struct{ Rel, Href string }
		}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	want := []struct{ Rel, Href string }{{"self", s.URL() + "/compute/v2.1/flavors/0"}, {"bookmark", s.URL() + "/compute/flavors/0"}}
	if !slices.Equal(f.Flavor.Links, want) {
		t.Errorf("links %+v, want %+v", f.Flavor.Links, want)
	}
}

// TestFlavorSummaryList: GET /flavors, where novaclient's find by name
// lands after GET /flavors/m1.nano is a 404: id, name and links only.
func TestFlavorSummaryList(t *testing.T) {
	s := start(t, nil)
	tok := token(t, s)
	st, b := fetch(t, "GET", s.URL()+"/compute/v2.1/flavors/m1.nano", tok, "")
	if st != 404 || !strings.Contains(string(b), `"itemNotFound"`) {
		t.Errorf("GET flavor by name: %d %s, want Nova's itemNotFound", st, b)
	}
	st, b = fetch(t, "GET", s.URL()+"/compute/v2.1/flavors", tok, "")
	var l struct{ Flavors []map[string]json.RawMessage }
	if err := json.Unmarshal(b, &l); st != 200 || err != nil {
		t.Fatalf("GET flavors: %d %s %v", st, b, err)
	}
	var names []string
	for _, f := range l.Flavors {
		var keys []string
		for k := range f {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"id", "links", "name"}) {
			t.Errorf("summary flavor has %q, want id, links, name", keys)
		}
		var n string
		json.Unmarshal(f["name"], &n)
		names = append(names, n)
	}
	if !slices.Equal(names, []string{"m1.nano", "m1.micro"}) {
		t.Errorf("flavors %q", names)
	}
}

// TestNeutronShowByName: openstacksdk's find_network and
// find_security_group GET the name as an ID first and expect Neutron's
// typed 404; the group shown by ID carries its rules.
func TestNeutronShowByName(t *testing.T) {
	s := start(t, nil)
	tok := token(t, s)
	for _, tc := range []struct{ path, typ string }{
		{"/network/v2.0/networks/provider1", "NetworkNotFound"},
		{"/network/v2.0/security-groups/default", "SecurityGroupNotFound"},
	} {
		st, b := fetch(t, "GET", s.URL()+tc.path, tok, "")
		var e struct {
			NeutronError struct{ Type, Message string }
		}
		json.Unmarshal(b, &e)
		if st != 404 || e.NeutronError.Type != tc.typ || e.NeutronError.Message == "" {
			t.Errorf("GET %s: %d %s, want 404 %s", tc.path, st, b, tc.typ)
		}
	}
	_, b := fetch(t, "GET", s.URL()+"/network/v2.0/security-groups?name=default", tok, "")
	var l struct {
		SecurityGroups []struct {
			ID    string `json:"id"`
			Rules []any  `json:"security_group_rules"`
		} `json:"security_groups"`
	}
	if err := json.Unmarshal(b, &l); err != nil || len(l.SecurityGroups) != 1 {
		t.Fatalf("list default: %s %v", b, err)
	}
	id := l.SecurityGroups[0].ID
	st, b := fetch(t, "GET", s.URL()+"/network/v2.0/security-groups/"+id, tok, "")
	var g struct {
		SecurityGroup struct {
			ID, Name string
			Rules    []any `json:"security_group_rules"`
		} `json:"security_group"`
	}
	if err := json.Unmarshal(b, &g); st != 200 || err != nil || g.SecurityGroup.ID != id || g.SecurityGroup.Name != "default" {
		t.Fatalf("GET security group %s: %d %s %v", id, st, b, err)
	}
	if len(g.SecurityGroup.Rules) == 0 || len(g.SecurityGroup.Rules) != len(l.SecurityGroups[0].Rules) {
		t.Errorf("shown group has %d rules, the listed one %d", len(g.SecurityGroup.Rules), len(l.SecurityGroups[0].Rules))
	}
}

// TestRequestServerFields: the fake records when it saw each request,
// who sent it, which server a create made and what status each GET of
// it answered, so a benchmark can count one client's polls of one server.
// Nova shows a security group the create named by ID under its name.
func TestRequestServerFields(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := start(t, &fakecloud.Config{BuildTime: 10 * time.Second, Now: clock})
	tok := token(t, s)
	_, b := fetch(t, "GET", s.URL()+"/network/v2.0/security-groups?name=default", tok, "")
	var l struct {
		SecurityGroups []struct{ ID string } `json:"security_groups"`
	}
	json.Unmarshal(b, &l)
	s.Cloud().ResetRequests()
	st, b := fetch(t, "POST", s.URL()+"/compute/v2.1/servers", tok,
		`{"server":{"name":"cli1","flavorRef":"0","imageRef":"b1199e44-960b-4c65-8287-bdf5454eb889","networks":[{"uuid":"c3e375fb-0ac1-4b91-9c66-d297e7d090e6"}],"security_groups":[{"name":"`+l.SecurityGroups[0].ID+`"}]}}`)
	var cr struct{ Server struct{ ID string } }
	if err := json.Unmarshal(b, &cr); st != 202 || err != nil {
		t.Fatalf("create: %d %s %v", st, b, err)
	}
	id := cr.Server.ID
	var statuses []string
	for range 3 {
		advance(5 * time.Second)
		_, b := fetch(t, "GET", s.URL()+"/compute/v2.1/servers/"+id, tok, "")
		var g struct {
			Server struct {
				Status         string
				SecurityGroups []struct{ Name string } `json:"security_groups"`
			}
		}
		json.Unmarshal(b, &g)
		statuses = append(statuses, g.Server.Status)
		if len(g.Server.SecurityGroups) != 1 || g.Server.SecurityGroups[0].Name != "default" {
			t.Errorf("server security_groups %+v, want the group's name", g.Server.SecurityGroups)
		}
	}
	if want := []string{"BUILD", "ACTIVE", "ACTIVE"}; !slices.Equal(statuses, want) {
		t.Errorf("answered %q, want %q", statuses, want)
	}
	reqs := s.Cloud().Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4: %+v", len(reqs), reqs)
	}
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for i, r := range reqs {
		wantStatus := "BUILD"
		if i > 0 {
			wantStatus = statuses[i-1]
		}
		if r.ServerID != id || r.ServerStatus != wantStatus || r.UserAgent != "fakecloud-test/1" || !r.Time.Equal(start.Add(time.Duration(i)*5*time.Second)) {
			t.Errorf("request %d %s %s: server %q status %q agent %q time %v", i, r.Method, r.Path, r.ServerID, r.ServerStatus, r.UserAgent, r.Time)
		}
	}
	// Requests about anything else carry no server.
	fetch(t, "GET", s.URL()+"/compute/v2.1/flavors", tok, "")
	if r := s.Cloud().Requests()[4]; r.ServerID != "" || r.ServerStatus != "" {
		t.Errorf("GET flavors marked with server %q %q", r.ServerID, r.ServerStatus)
	}
}

// TestServerFlavorByMicroversion: below 2.47 Nova shows a server's flavor
// as a reference (the openstack CLI, at 2.1, then GETs it); from 2.47 on
// as the embedded copy the recorded body has.
func TestServerFlavorByMicroversion(t *testing.T) {
	s := start(t, nil)
	tok := token(t, s)
	const vm2 = "3fc516db-bae9-4e60-a58c-0d8beace5d6e"
	for _, tc := range []struct {
		header, value string
		ref           bool
	}{
		{"", "", true},
		{"X-OpenStack-Nova-API-Version", "2.1", true},
		{"OpenStack-API-Version", "compute 2.46", true},
		{"OpenStack-API-Version", "compute 2.47", false},
		{"X-OpenStack-Nova-API-Version", "2.79", false},
		{"OpenStack-API-Version", "compute latest", false},
	} {
		req, _ := http.NewRequest("GET", s.URL()+"/compute/v2.1/servers/"+vm2, nil)
		req.Header.Set("X-Auth-Token", tok)
		if tc.header != "" {
			req.Header.Set(tc.header, tc.value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Server struct {
				Flavor map[string]any `json:"flavor"`
			} `json:"server"`
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		fl := v.Server.Flavor
		if tc.ref {
			links, _ := fl["links"].([]any)
			if fl["id"] != "1" || len(fl) != 2 || len(links) != 1 || !strings.Contains(fmt.Sprint(links[0]), s.URL()+"/compute/flavors/1") {
				t.Errorf("%s: %s: flavor %v, want a reference to m1.micro (id 1)", tc.header, tc.value, fl)
			}
		} else if fl["original_name"] != "m1.micro" || fl["ram"] != 128.0 {
			t.Errorf("%s: %s: flavor %v, want the embedded m1.micro", tc.header, tc.value, fl)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
