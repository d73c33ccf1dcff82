package stackops

import (
	"math/rand"
	"testing"
	"time"

	units "github.com/docker/go-units"
)

func TestParseStatusText(t *testing.T) {
	cases := []struct {
		text     string
		health   string
		exit     int
		hasExit  bool
		paused   bool
		lo, hi   time.Duration
		duration bool
	}{
		{text: "Up 3 minutes", lo: 3 * time.Minute, hi: 4 * time.Minute, duration: true},
		{text: "Up Less than a second", lo: 0, hi: time.Second, duration: true},
		{text: "Up 1 second", lo: time.Second, hi: 2 * time.Second, duration: true},
		{text: "Up 45 seconds (healthy)", health: "healthy", lo: 45 * time.Second, hi: 46 * time.Second, duration: true},
		{text: "Up About a minute (unhealthy)", health: "unhealthy", lo: time.Minute, hi: 2 * time.Minute, duration: true},
		{text: "Up 2 seconds (health: starting)", health: "starting", lo: 2 * time.Second, hi: 3 * time.Second, duration: true},
		{text: "Up About an hour (Paused)", paused: true, lo: time.Hour, hi: 90 * time.Minute, duration: true},
		{text: "Up 5 hours", lo: 4*time.Hour + 30*time.Minute, hi: 5*time.Hour + 30*time.Minute, duration: true},
		{text: "Up 3 days", lo: 71*time.Hour + 30*time.Minute, hi: 95*time.Hour + 30*time.Minute, duration: true},
		{text: "Exited (0) 5 seconds ago", exit: 0, hasExit: true, lo: 5 * time.Second, hi: 6 * time.Second, duration: true},
		{text: "Exited (137) 2 weeks ago", exit: 137, hasExit: true, lo: 2*7*24*time.Hour - 30*time.Minute, hi: 3*7*24*time.Hour - 30*time.Minute, duration: true},
		{text: "Exited (1) Less than a second ago", exit: 1, hasExit: true, lo: 0, hi: time.Second, duration: true},
		{text: "Exited (-1) 3 years ago", exit: -1, hasExit: true, lo: 3 * 365 * 24 * time.Hour, hi: 4 * 365 * 24 * time.Hour, duration: true},
		{text: "Restarting (2) 1 second ago", exit: 2, hasExit: true, lo: time.Second, hi: 2 * time.Second, duration: true},
		{text: "Created"},
		{text: "Dead"},
		{text: "Removal In Progress"},
		{text: ""},
		// Text from an engine that writes it otherwise: nothing is guessed.
		{text: "Up 3 minutes (something new)"},
		{text: "Up for a while"},
		{text: "Exited (x) 3 minutes ago"},
		{text: "Exited (3)"},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			st := parseStatusText(tc.text)
			if st.health != tc.health || st.exitCode != tc.exit || st.hasExit != tc.hasExit || st.paused != tc.paused || st.known != tc.duration {
				t.Fatalf("%+v", st)
			}
			if tc.duration && (st.lo != tc.lo || st.hi != tc.hi) {
				t.Fatalf("range [%s, %s), want [%s, %s)", st.lo, st.hi, tc.lo, tc.hi)
			}
		})
	}
}

// parseHumanDuration inverts the engine's own formatter (go-units, the
// same code and version Docker uses): every duration lies in the range its
// text stands for.
func TestParseHumanDurationInvertsGoUnits(t *testing.T) {
	check := func(d time.Duration) {
		t.Helper()
		text := units.HumanDuration(d)
		lo, hi, ok := parseHumanDuration(text)
		if !ok || d < lo || d >= hi {
			t.Fatalf("%s prints as %q, read back as [%s, %s) ok=%v", d, text, lo, hi, ok)
		}
	}
	for d := time.Duration(0); d < 3*time.Hour; d += 250 * time.Millisecond {
		check(d)
	}
	for d := 3 * time.Hour; d < 4*365*24*time.Hour; d += 7 * time.Minute {
		check(d)
	}
	r := rand.New(rand.NewSource(1))
	for range 100000 {
		check(time.Duration(r.Int63n(int64(6 * 365 * 24 * time.Hour))))
	}
}

func TestStatusTextFits(t *testing.T) {
	up := parseStatusText("Up 3 minutes")
	for d, want := range map[time.Duration]bool{
		3 * time.Minute:                 true,
		3*time.Minute - time.Second:     true, // within the slack
		3*time.Minute - 3*time.Second:   false,
		4*time.Minute + time.Second:     true,
		4*time.Minute + 3*time.Second:   false,
		10 * time.Second:                false, // restarted since
		3*time.Minute + 30*time.Second:  true,
		-3*time.Minute - 30*time.Second: false,
	} {
		if got := up.fits(d, 2*time.Second); got != want {
			t.Errorf("Up 3 minutes fits %s: %v, want %v", d, got, want)
		}
	}
	if parseStatusText("Created").fits(0, time.Hour) {
		t.Error("a text without a duration fits nothing")
	}
}
