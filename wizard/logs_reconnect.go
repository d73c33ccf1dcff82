package wizard

import (
	"context"
	"fmt"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/logs"
)

// logsReconnectAttempts bounds how often `logs -f` tries to reach a remote
// engine again after the connection dropped; the waits between attempts
// double from logsReconnectFirstWait (1 s, 2 s, 4 s, 8 s, 8 s: ~25 s in all).
const (
	logsReconnectAttempts  = 5
	logsReconnectFirstWait = time.Second
	logsReconnectMaxWait   = 8 * time.Second
)

// followAcrossDrops keeps `logs -f` on a remote engine going when its
// connection drops (a network blip, the server's sshd restarted, a laptop
// resumed): it says so on stderr, connects again — a new ssh connection, a
// new TLS session — and follows on from just after the last line printed,
// so nothing is shown twice or lost. Tries are bounded; a failure that
// trying again cannot mend (a changed host key, a refused login or TLS
// certificate, no docker on the server) ends it at once with that error.
// err is what the first logs.Read returned; the result replaces it.
func followAcrossDrops(ctx context.Context, f *Factory, st *stackops.Stack, lo logs.Options, p *logPrinter, err error) error {
	ep, eerr := st.Endpoint()
	if eerr != nil || !ep.Remote() {
		return err
	}
	cs := f.IO.ErrColorScheme()
	for err != nil && ctx.Err() == nil && !stackops.EngineErrorIsFinal(err) {
		_ = p.flush()
		fmt.Fprintf(f.IO.ErrOut, "%s connection to %s lost (%s) — reconnecting…\n", cs.WarningIcon(), ep, Message(err))
		wait := logsReconnectFirstWait
		var reached *stackops.Stack
		for attempt := 1; attempt <= logsReconnectAttempts; attempt++ {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(wait):
			}
			wait = min(2*wait, logsReconnectMaxWait)
			f.forgetStack() // ends the old connection (its ssh master)
			next, lerr := f.Stack(ctx)
			if lerr == nil {
				lerr = next.PingEngine(ctx)
			}
			if lerr == nil {
				reached = next
				break
			}
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if stackops.EngineErrorIsFinal(lerr) {
				return lerr
			}
			fmt.Fprintf(f.IO.ErrOut, "%s attempt %d of %d: %s\n", cs.Gray("·"), attempt, logsReconnectAttempts, Message(lerr))
			err = lerr
		}
		if reached == nil {
			return fmt.Errorf("gave up reconnecting to %s after %d attempts: %w", ep, logsReconnectAttempts, err)
		}
		st = reached
		p.mu.Lock()
		last := p.last
		p.mu.Unlock()
		if !last.IsZero() {
			lo.Since = last.Add(time.Nanosecond)
		}
		lo.Tail = -1 // everything since the last line shown
		fmt.Fprintf(f.IO.ErrOut, "%s reconnected to %s — following again\n", cs.SuccessIcon(), ep)
		err = logs.Read(ctx, st, lo, p.print)
	}
	return err
}
