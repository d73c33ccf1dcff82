package selfupdate

import "testing"

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3":                                "1.2.3",
		"v1.2.3":                               "1.2.3",
		"v1.2.3 (0123456789ab)":                "1.2.3",
		"1.2.3-rc.1":                           "1.2.3-rc.1",
		"1.2.3+build.5":                        "1.2.3",
		"v0.0.0-20250101120000-abcdef012345":   "0.0.0-20250101120000-abcdef012345",
		"v1.4.0-0.20250101120000-abcdef012345": "1.4.0-0.20250101120000-abcdef012345",
		"10.20.30":                             "10.20.30",
	} {
		v, ok := ParseVersion(in)
		if !ok || v.String() != want {
			t.Errorf("ParseVersion(%q) = %q, %v; want %q", in, v.String(), ok, want)
		}
	}
	for _, in := range []string{"", "dev", "1.2", "1.2.3.4", "01.2.3", "1.2.x", "1.2.3-", "1.2.3-a..b", "1.2.3-ä", "+1.2.3", "1.-2.3", "v"} {
		if v, ok := ParseVersion(in); ok {
			t.Errorf("ParseVersion(%q) = %q, accepted", in, v)
		}
	}
}

func TestVersionCompare(t *testing.T) {
	// Each is older than the next (semver's own example, plus majors).
	order := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	for i := range order {
		for j := range order {
			a, _ := ParseVersion(order[i])
			b, _ := ParseVersion(order[j])
			want := cmpInt(i, j)
			if got := a.Compare(b); got != want {
				t.Errorf("%s vs %s: %d, want %d", order[i], order[j], got, want)
			}
		}
	}
}

func TestNewer(t *testing.T) {
	cases := []struct {
		latest, current string
		want            bool
	}{
		{"1.1.0", "1.0.0", true},
		{"1.0.0", "1.0.0", false},
		{"1.0.0", "1.1.0", false},
		{"1.0.0", "dev", true},                                // a development build is older than any release
		{"1.0.0", "v0.0.0-20250101120000-abcdef012345", true}, // so is a go install of a commit
		{"junk", "1.0.0", false},
	}
	for _, c := range cases {
		if got := Newer(c.latest, c.current); got != c.want {
			t.Errorf("Newer(%q, %q) = %v", c.latest, c.current, got)
		}
	}
}
