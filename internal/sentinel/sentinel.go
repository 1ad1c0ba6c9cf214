package sentinel

// Error is a sentinel error. Compare it with errors.Is; its Is method also
// matches the standard error it was declared with.
type Error struct {
	msg  string
	also error
}

// New returns a sentinel whose text is msg (lowercase, prefixed with the
// package name) and which errors.Is also reports as also (nil for none).
func New(msg string, also error) error { return &Error{msg: msg, also: also} }

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Is reports whether target is the standard error e was declared with.
func (e *Error) Is(target error) bool { return e.also != nil && target == e.also }
