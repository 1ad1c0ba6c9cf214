package launch_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/launch"
)

// Nova answers an over-quota create with 403 like a policy refusal: the
// hint must say quota, not admin role. Message recorded from the aio Zed
// cloud (POST /v2.1/servers with a 4 TiB RAM flavor).
func TestAPIErrorHintQuotaNotAdmin(t *testing.T) {
	quota := &launch.APIError{Op: "create server x", Method: http.MethodPost, URL: "http://127.0.0.1:8774/v2.1/servers", Status: http.StatusForbidden,
		Message: "Quota exceeded for ram: Requested 4194304, but already used 0 of 51200 ram"}
	if got := quota.Error(); !strings.Contains(got, "over the project's quota") || strings.Contains(got, "admin role") {
		t.Errorf("quota 403: %q; want the quota hint, not the admin one", got)
	}
	policy := &launch.APIError{Op: "create flavor x", Status: http.StatusForbidden, Message: "Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed."}
	if got := policy.Error(); !strings.Contains(got, "admin role") {
		t.Errorf("policy 403: %q; want the admin hint", got)
	}
}
