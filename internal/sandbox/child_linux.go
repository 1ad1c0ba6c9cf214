package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// child is a restartable daemon this process started and reaps (the
// private libvirtd, sshd). Its owner holds its own lock around every
// call.
type child struct {
	name string // "libvirtd", "sshd": for errors
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd is reaped
}

// start runs cmd (through startFn: cmd.Start, or NetNS.Start to be born in
// a namespace) with its standard output and error appended to logPath,
// and reaps it when it exits.
func (c *child) start(cmd *exec.Cmd, logPath string, startFn func(*exec.Cmd) error) error {
	if c.cmd != nil {
		return fmt.Errorf("sandbox: the private %s is already running", c.name)
	}
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := startFn(cmd); err != nil {
		out.Close()
		return fmt.Errorf("sandbox: start the private %s: %w", c.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(done) }()
	c.cmd, c.done = cmd, done
	return nil
}

// exited reports whether the daemon has exited and been reaped, and then
// forgets it (a later start runs a new one).
func (c *child) exited() bool {
	select {
	case <-c.done:
		c.cmd, c.done = nil, nil
		return true
	default:
		return false
	}
}

// signal sends sig to the running daemon.
func (c *child) signal(sig syscall.Signal) error {
	if c.cmd == nil {
		return fmt.Errorf("sandbox: the private %s is not running", c.name)
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("sandbox: %v to %s: %w", sig, c.name, err)
	}
	return nil
}

// stop sends sig, and SIGCONT after it unless it is SIGKILL (a frozen
// daemon handles SIGTERM only once continued; a SIGKILLed one must not
// get the gap in which it would answer), waits for the exit, killing
// the daemon after timeout, and forgets it. Stopping a stopped daemon
// does nothing.
func (c *child) stop(sig syscall.Signal, timeout time.Duration) {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(sig)
	if sig != syscall.SIGKILL {
		c.cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.cmd.Process.Kill()
		<-c.done
	}
	c.cmd, c.done = nil, nil
}

// pid is the daemon's process id, 0 when it is not running.
func (c *child) pid() int {
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}
