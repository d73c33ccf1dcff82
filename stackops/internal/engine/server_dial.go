package engine

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/docker/cli/cli/connhelper/commandconn"
)

// ErrNoServerDial means the engine's connection cannot carry a TCP
// connection made from the server's side (only ssh:// can).
var ErrNoServerDial = errors.New("this engine connection cannot open connections from the server's side")

// CanDialServer reports whether DialServer works: an ssh:// engine.
func (c *Client) CanDialServer() bool { return c.ssh != nil }

// DialServer opens a TCP connection to addr (host:port) FROM THE SERVER the
// engine runs on — 127.0.0.1 is the server's loopback — as a channel of the
// command's one ssh connection (`ssh -W addr`, multiplexed on the master):
// no new login, no program needed on the server beyond sshd.
func (c *Client) DialServer(ctx context.Context, addr string) (net.Conn, error) {
	d := c.ssh
	if d == nil {
		return nil, ErrNoServerDial
	}
	d.once.Do(func() { d.err = d.startMaster(ctx) })
	if d.err != nil {
		return nil, d.err
	}
	args := []string{
		"-o", "ControlMaster=no",
		"-o", "ControlPath=" + d.ctl,
		"-o", "ConnectTimeout=" + strconv.Itoa(sshConnectTimeout),
		"-W", addr,
	}
	args = append(args, d.spec.Args()...)
	return commandconn.New(ctx, "ssh", args...)
}
