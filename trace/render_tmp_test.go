package trace

import (
	"os"
	"testing"
)

func TestTmpWriteHTML(t *testing.T) {
	rec := loadRecording(t, "tap-down")
	f, _ := os.Create("/tmp/rp-new.html")
	rec.Broken.WriteHTML(f)
	f.Close()
}
