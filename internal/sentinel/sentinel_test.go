package sentinel

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestIs(t *testing.T) {
	errA := New("pkg: not found", fs.ErrNotExist)
	errB := New("pkg: closed", nil)
	w := fmt.Errorf("pkg: open x: %w: check y", errA)
	if !errors.Is(w, errA) || !errors.Is(w, fs.ErrNotExist) {
		t.Errorf("%v: want errors.Is errA and fs.ErrNotExist", w)
	}
	if errors.Is(w, errB) || errors.Is(w, fs.ErrPermission) {
		t.Errorf("%v matches what it was not declared with", w)
	}
	if errors.Is(errB, fs.ErrNotExist) || !errors.Is(errB, errB) {
		t.Errorf("%v: a sentinel without a standard error matches only itself", errB)
	}
	if errA.Error() != "pkg: not found" {
		t.Errorf("Error() = %q", errA.Error())
	}
}
