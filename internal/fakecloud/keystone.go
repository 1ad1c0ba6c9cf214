package fakecloud

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// keystoneRoutes registers Keystone's API (identity v3): its version
// documents and password authentication, all without a token (an unknown
// path under /identity/ is a 404, not a 401).
func (c *Cloud) keystoneRoutes() {
	versions := func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		writeJSON(w, http.StatusMultipleChoices, obj{"versions": obj{"values": []obj{c.keystoneV3()}}})
	}
	c.public("GET /identity", versions)
	c.public("GET /identity/{$}", versions)
	c.public("GET /identity/v3", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		writeJSON(w, http.StatusOK, obj{"version": c.keystoneV3()})
	})
	c.public("POST /identity/v3/auth/tokens", c.postToken)
	c.public("/identity/", func(w http.ResponseWriter, r *http.Request, _ []byte) { c.notFound(w, r.URL.Path) })
}

// postToken answers POST /v3/auth/tokens: a token for the one user and
// password, with the catalog rebased on the fake's URL.
func (c *Cloud) postToken(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Auth struct {
			Identity struct {
				Password struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Auth.Identity.Password.User.Name != Username || req.Auth.Identity.Password.User.Password != c.cfg.Password {
		unauthorized(w)
		return
	}
	c.seq++
	tok := fmt.Sprintf("gAAAAAfake-token-%06d-secret", c.seq)
	c.tokens[tok] = true
	c.issued = append(c.issued, tok)
	b, _ := json.Marshal(c.tokenBody)
	var body2 obj
	json.Unmarshal(b, &body2)
	t := body2["token"].(obj)
	now := c.cfg.Now().UTC()
	t["issued_at"] = now.Format("2006-01-02T15:04:05.000000Z")
	t["expires_at"] = now.Add(time.Hour).Format("2006-01-02T15:04:05.000000Z")
	svcPath := map[string]string{"compute": "/compute/v2.1", "network": "/network", "image": "/image", "identity": "/identity/v3/", "placement": "/placement"}
	for _, e := range t["catalog"].([]any) {
		e := e.(obj)
		for _, ep := range e["endpoints"].([]any) {
			ep.(obj)["url"] = c.base + svcPath[e["type"].(string)]
		}
	}
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, http.StatusCreated, body2)
}
