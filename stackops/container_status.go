package stackops

import (
	"strconv"
	"strings"
	"time"
)

// statusText is what the engine's Status text of a container says — the
// text `docker ps` shows, which the engine writes the same way since Docker
// 1.x (moby's container.State.String):
//
//	Up 3 minutes                      running
//	Up 3 minutes (healthy)            running, health: healthy / unhealthy
//	Up 2 seconds (health: starting)   running, health check not passed yet
//	Up 3 minutes (Paused)             paused (the health is not shown)
//	Restarting (1) 2 seconds ago      waiting to restart after exit code 1
//	Exited (137) 5 hours ago          stopped, exit code 137
//	Created                           never started
//	Dead, Removal In Progress, ""     the rest
//
// The duration is go-units' HumanDuration of the time since the container
// started (Up) or stopped (Exited, Restarting), computed by the engine when it
// answered the list.
type statusText struct {
	// health is healthy, unhealthy or starting, or "" when the text shows none.
	health string
	// exitCode is the code in "Exited (N)" and "Restarting (N)".
	exitCode int
	hasExit  bool
	// paused is "(Paused)".
	paused bool
	// since is the range [lo, hi) the duration stands for; known is false when
	// the text holds no duration (or one this parser does not read).
	lo, hi time.Duration
	known  bool
}

// parseStatusText reads an engine Status text. Text it does not recognise
// gives the zero value: no health, no exit code, no duration.
func parseStatusText(s string) statusText {
	var st statusText
	switch {
	case strings.HasPrefix(s, "Up "):
		rest := s[len("Up "):]
		if i := strings.LastIndex(rest, " ("); i >= 0 && strings.HasSuffix(rest, ")") {
			switch paren := rest[i+2 : len(rest)-1]; paren {
			case "healthy", "unhealthy":
				st.health = paren
			case "health: starting":
				st.health = "starting"
			case "Paused":
				st.paused = true
			default:
				return statusText{}
			}
			rest = rest[:i]
		}
		st.lo, st.hi, st.known = parseHumanDuration(rest)
	case strings.HasPrefix(s, "Exited ("), strings.HasPrefix(s, "Restarting ("):
		_, rest, _ := strings.Cut(s, "(")
		code, rest, ok := strings.Cut(rest, ") ")
		n, err := strconv.Atoi(code)
		if !ok || err != nil {
			return statusText{}
		}
		st.exitCode, st.hasExit = n, true
		if d, ok := strings.CutSuffix(rest, " ago"); ok {
			st.lo, st.hi, st.known = parseHumanDuration(d)
		}
	}
	return st
}

// parseHumanDuration inverts go-units' HumanDuration: the range [lo, hi) of
// durations that it prints as s.
func parseHumanDuration(s string) (lo, hi time.Duration, ok bool) {
	const day, week, month, year = 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour
	switch s {
	case "Less than a second":
		return 0, time.Second, true
	case "About a minute":
		return time.Minute, 2 * time.Minute, true
	case "About an hour":
		// Hours are rounded: 60 min up to 1.5 h.
		return time.Hour, 90 * time.Minute, true
	}
	num, unit, found := strings.Cut(s, " ")
	n, err := strconv.Atoi(num)
	if !found || err != nil || n < 0 {
		return 0, 0, false
	}
	d := time.Duration(n)
	half := 30 * time.Minute
	switch unit {
	case "second", "seconds":
		return d * time.Second, (d + 1) * time.Second, true
	case "minutes":
		return d * time.Minute, (d + 1) * time.Minute, true
	case "hours":
		return d*time.Hour - half, d*time.Hour + half, true
	case "days":
		return d*day - half, (d+1)*day - half, true
	case "weeks":
		return d*week - half, (d+1)*week - half, true
	case "months":
		return d*month - half, (d+1)*month - half, true
	case "years":
		return d * year, (d + 1) * year, true
	}
	return 0, 0, false
}

// fits reports whether a duration known to lie in [d-slack, d+slack] can be
// the one the text stands for.
func (st statusText) fits(d, slack time.Duration) bool {
	return st.known && d+slack >= st.lo && d-slack < st.hi
}
