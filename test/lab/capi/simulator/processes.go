package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// processes are the children of one workload cluster (etcd, kube-apiserver,
// kwok), each logging to <dir>/logs/<name>.log. They stay in the simulator's
// process group, so stopping that group stops them too.
type processes struct {
	dir  string
	mu   sync.Mutex
	cmds []*exec.Cmd
}

func (p *processes) start(name, exe string, args ...string) error {
	if err := os.MkdirAll(filepath.Join(p.dir, "logs"), 0o700); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(p.dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If the simulator is killed, its children must not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting %s (%s): %w", name, exe, err)
	}
	go func() { _ = cmd.Wait(); _ = logFile.Close() }()
	p.mu.Lock()
	p.cmds = append(p.cmds, cmd)
	p.mu.Unlock()
	return nil
}

// stop terminates the children in reverse start order, then kills what is left.
func (p *processes) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.cmds) - 1; i >= 0; i-- {
		cmd := p.cmds[i]
		_ = cmd.Process.Signal(syscall.SIGTERM)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && cmd.Process.Signal(syscall.Signal(0)) == nil && cmd.ProcessState == nil {
			time.Sleep(100 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
	}
	p.cmds = nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls check until it succeeds or the timeout passes.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s waiting for %s: %v", timeout, what, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func tcpOpen(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	}
}

func httpOK(client *http.Client, url string) func() error {
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return nil
	}
}

func httpsClient(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}
