package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/sirupsen/logrus"
)

// compose-go warns through logrus about unset variables; the reference
// parser runs thousands of times here, so keep it quiet.
func init() { logrus.SetOutput(io.Discard) }

// composeParse is the reference reader: compose-go's own dotenv parser.
func composeParse(b []byte, lookup func(string) (string, bool)) (map[string]string, error) {
	// ParseWithLookup is what Compose uses for files (it skips a BOM)
	return dotenv.ParseWithLookup(bytes.NewReader(b), lookup)
}

// ourParse reads b with stackpilot's scanner into the same shape.
func ourParse(b []byte, lookup func(string) (string, bool)) (map[string]string, error) {
	d, err := Parse(b, nil)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, v := range d.Evaluate(lookup) {
		if v.Err != nil {
			return nil, v.Err
		}
		if v.Set {
			m[v.Key] = v.Value
		}
	}
	return m, nil
}

// checkAgreement asserts stackpilot reads b exactly as compose-go does:
// both fail, or both succeed with the same keys and values.
func checkAgreement(t *testing.T, b []byte) {
	t.Helper()
	env := map[string]string{"HOME": "/root", "EMPTY": ""}
	lookups := map[string]func(string) (string, bool){
		"nil":      nil,
		"env":      func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		"symbolic": symbolicLookup,
	}
	for name, lookup := range lookups {
		want, werr := composeParse(b, lookup)
		got, gerr := ourParse(b, lookup)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("lookup %s: input %q: compose-go error %v, stackpilot error %v", name, b, werr, gerr)
		}
		if werr != nil {
			continue
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("lookup %s: input %q:\ncompose-go: %q\nstackpilot: %q", name, b, want, got)
		}
	}
}

// envSamples are inputs with every construct and quirk of the format.
var envSamples = []string{
	"",
	"A=1",
	"A=1\n",
	"\uFEFFA=1\nB=2\n",
	"# comment\n\nA=1 # trailing\nB='single # not a comment'\nC=\"double \\n escaped\"\n",
	"export A=1\nexport   B = two\n  C :  yaml style\n",
	"A=1\r\nB=\"x\"\r\nC='y'\r\n# c\r\n",
	"A=\"multi\nline\nvalue\"\nB=after\n",
	"A='multi\nline'\n",
	"A=${HOME}/x\nB=$A-$HOME\nC=${MISSING:-dflt}\nD=${A:+set}\nE='${HOME}'\nF=\"${HOME}\"\nG=$$literal\n",
	"A=\"esc \\\" quote\"\nB='esc \\' quote'\nC=\"back\\\\slash\"\nD=\"\\$HOME\"\n",
	"INHERITED\nHOME\nA=1\n",
	"A=\"x\" B=2\n",
	"A=\"unterminated\n",
	"A B=1\n",
	"A@=1\n",
	"=novalue\n",
	"A=  # only a comment\n",
	"A=value#nocomment\nB=value #comment\n",
	"A.B-C[0]=dots\n",
	"A=\"\\0101\\t\\a\"\n",
	"A=${\n",
	"A=${B:?needed}\n",
	"A=${HOME:?needed}\n",
	"export\nA=1\n",
	"export ",
	"A=\"x\"junk\n",
	"A=\t\ttabbed\t\n",
	"A=\u00a0nbsp\u00a0\n",
	"ÄÖ=unicode key\nB=ünïcödé\n",
	"A=1\nA=2\nB=${A}\nA=3\n",
	"   \n\t# indented comment\n  A=1\n",
	"LAST",
	"A=\"x\"\t# c\nB='y'#c\n",
}

func TestEnvParserAgreesWithCompose(t *testing.T) {
	for _, s := range envSamples {
		checkAgreement(t, []byte(s))
	}
}

func FuzzEnvParse(f *testing.F) {
	for _, s := range envSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// never panics, and agrees with compose-go on every input
		checkAgreement(t, b)
		d, err := Parse(b, nil)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		if !bytes.Equal(d.Bytes(), b) {
			t.Fatalf("the document does not hold the exact bytes")
		}
		for _, e := range d.Entries() {
			if e.Line < 1 || e.EndLine < e.Line {
				t.Fatalf("bad lines for %q: %d-%d", e.Key, e.Line, e.EndLine)
			}
		}
		// the write path's fast template check agrees with the template package
		symErr := false
		for _, v := range d.Evaluate(symbolicLookup) {
			symErr = symErr || v.Err != nil
		}
		if (d.templateErrors() != nil) != symErr {
			t.Fatalf("templateErrors %v, symbolic evaluation error %v", d.templateErrors(), symErr)
		}
		// lazy evaluation (env get) agrees with full evaluation (env list)
		env := func(k string) (string, bool) {
			if k == "HOME" {
				return "/root", true
			}
			return "", false
		}
		full := d.Evaluate(env)
		for i := range full {
			if d.last(full[i].Key) != i {
				continue
			}
			v, ok, err := d.Value(full[i].Key, env)
			if v != full[i].Value || ok != full[i].Set || (err == nil) != (full[i].Err == nil) {
				t.Fatalf("%q: lazy %q %v %v, full %q %v %v", full[i].Key, v, ok, err, full[i].Value, full[i].Set, full[i].Err)
			}
		}
	})
}

// roundTripBase is a .env with every style a key can be written in.
const roundTripBase = "# header comment\n" +
	"\n" +
	"PLAIN=value # inline comment\n" +
	"export EXPORTED=yes\n" +
	"SINGLE='it is $literal'\n" +
	"DOUBLE=\"line\\nbreak\"\n" +
	"  INDENTED = spaced\n" +
	"YAML: style\n" +
	"REF=${PLAIN}-suffix\n" +
	"BARE\n" +
	"EMPTY=\n" +
	"MULTI=\"first\nsecond\"\n" +
	"CRLF=1\r\n" +
	"QUOTED_COMMENT=\"v\"# c\n" +
	"LAST=no-final-newline"

var roundTripKeys = []string{"PLAIN", "EXPORTED", "SINGLE", "DOUBLE", "INDENTED", "YAML", "REF", "BARE", "EMPTY", "MULTI", "CRLF", "QUOTED_COMMENT", "LAST", "NEW_KEY"}

// checkRoundTrip sets key to value in base and asserts compose-go reads the
// value back exactly, with no other key changed or added, and only the
// key's own lines touched.
func checkRoundTrip(t *testing.T, base []byte, key, value string) {
	t.Helper()
	before, err := Parse(base, nil)
	if err != nil {
		t.Fatalf("base: %v", err)
	}
	d := before.Clone()
	err = d.Set(key, value)
	if strings.IndexByte(value, 0) >= 0 {
		if !errors.Is(err, ErrInvalidValue) {
			t.Fatalf("NUL value: got %v, want ErrInvalidValue", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("set %s=%q: %v", key, value, err)
	}
	if err := verifyEdit(before, d, composeParse); err != nil {
		t.Fatalf("set %s=%q: verify: %v\n%s", key, value, err, d.Bytes())
	}
	for _, lookup := range []func(string) (string, bool){nil, symbolicLookup} {
		old, _ := composeParse(base, lookup)
		got, err := composeParse(d.Bytes(), lookup)
		if err != nil {
			t.Fatalf("set %s=%q: compose-go cannot read the result: %v\n%q", key, value, err, d.Bytes())
		}
		if got[key] != value {
			t.Fatalf("set %s=%q: compose-go reads %q\n%q", key, value, got[key], d.Bytes())
		}
		for k, v := range old {
			if k == key {
				continue
			}
			// REF refers to PLAIN: its real value follows PLAIN, by design
			if k == "REF" && key == "PLAIN" && lookup == nil {
				continue
			}
			if got[k] != v {
				t.Fatalf("set %s=%q changed %s: %q -> %q", key, value, k, v, got[k])
			}
		}
		for k := range got {
			if _, ok := old[k]; !ok && k != key {
				t.Fatalf("set %s=%q added %s", key, value, k)
			}
		}
	}
	// only the key's lines differ
	a, b := strings.SplitAfter(string(base), "\n"), strings.SplitAfter(string(d.Bytes()), "\n")
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	ja, jb := len(a)-1, len(b)-1
	for ja >= i && jb >= i && a[ja] == b[jb] {
		ja--
		jb--
	}
	changedOld := strings.Join(a[i:ja+1], "")
	if bytes.Equal(base, d.Bytes()) {
		return
	}
	if strings.Contains(key, "NEW") {
		if changedOld != "" && changedOld != "LAST=no-final-newline" {
			t.Fatalf("adding %s rewrote %q", key, changedOld)
		}
	} else if !strings.Contains(changedOld, key) {
		t.Fatalf("set %s rewrote lines not its own: %q", key, changedOld)
	}
}

// hostile is the alphabet values are drawn from.
var hostile = []string{`\`, `"`, `'`, `$`, `{`, `}`, `#`, `=`, " ", "\t", "\r", "\n", "a", "Z", "0", "_", "é", "😀", "${X}", "$$", `\n`, `\$`, " #", "\u00a0", "\u0085", ":", "-", "?", "\x01", "\x7f", "\xff"}

func randomValue(r *rand.Rand) string {
	n := r.Intn(12)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(hostile[r.Intn(len(hostile))])
	}
	return b.String()
}

func TestEnvSetRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 4000; i++ {
		v := randomValue(r)
		key := roundTripKeys[r.Intn(len(roundTripKeys))]
		checkRoundTrip(t, []byte(roundTripBase), key, v)
		checkRoundTrip(t, []byte(strings.ReplaceAll(roundTripBase, "\n", "\r\n")), key, v)
	}
	for _, v := range []string{"", " ", "#", " #x", "'", "\"", "\\", "\\'", "'\\", "$", "${PLAIN}", "$PLAIN", "a\nb", "\r", "\n", "trailing\\", "x ", " x", "=", "é ü"} {
		for _, key := range roundTripKeys {
			checkRoundTrip(t, []byte(roundTripBase), key, v)
		}
	}
}

func FuzzEnvSetRoundTrip(f *testing.F) {
	for i, v := range []string{"", "plain", "with space", "$HOME", "${A:-b}", "it's", `say "hi"`, `back\slash`, "multi\nline", "tab\there", "#hash", " #c", "\r\n", "ünï😀", "trailing\\", "x\x00y"} {
		f.Add(v, uint8(i))
	}
	f.Fuzz(func(t *testing.T, value string, which uint8) {
		key := roundTripKeys[int(which)%len(roundTripKeys)]
		checkRoundTrip(t, []byte(roundTripBase), key, value)
	})
}

func TestEnvUnsetKeepsEverythingElse(t *testing.T) {
	for _, key := range roundTripKeys[:len(roundTripKeys)-1] {
		before, err := Parse([]byte(roundTripBase), nil)
		if err != nil {
			t.Fatal(err)
		}
		d := before.Clone()
		ok, err := d.Unset(key)
		if err != nil || !ok {
			t.Fatalf("unset %s: %v %v", key, ok, err)
		}
		if err := verifyEdit(before, d, composeParse); err != nil {
			t.Fatalf("unset %s: %v", key, err)
		}
		if strings.HasSuffix(string(d.Bytes()), "\n") {
			t.Fatalf("unset %s added a final newline", key)
		}
		if strings.Contains(string(d.Bytes()), key+"=") || strings.Contains(string(d.Bytes()), "\n"+key+"\n") {
			t.Fatalf("unset %s left it in:\n%s", key, d.Bytes())
		}
	}
}

func TestEnvEncodingStyle(t *testing.T) {
	cases := []struct{ value, want string }{
		{"simple", "simple"},
		{"", ""},
		{"postgres://u@h:5432/db?x=1", "'postgres://u@h:5432/db?x=1'"},
		{"a b", "'a b'"},
		{"p@$$w#rd", "'p@$$w#rd'"},
		{"it's", `"it's"`},
		{`a\b`, `"a\\b"`},
		{"l1\nl2", `"l1\nl2"`},
		{"$HOME's", `"$$HOME's"`},
		{"ünï", "ünï"},
	}
	for _, c := range cases {
		got, err := EncodeValue(c.value)
		if err != nil || got != c.want {
			t.Errorf("encode %q = %q, %v; want %q", c.value, got, err, c.want)
		}
	}
	if _, err := EncodeValue("a\x00b"); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("NUL: %v", err)
	}
}

func TestEnvSetKeepsLineStyle(t *testing.T) {
	cases := []struct{ in, key, value, want string }{
		{"A=1 # port\n", "A", "2", "A=2 # port\n"},
		{"export A='x'\n", "A", "y z", "export A='y z'\n"},
		{"A=\"x\"\r\n", "A", "y", "A=\"y\"\r\n"},
		{"  A : x\n", "A", "y", "  A : y\n"},
		{"A\n", "A", "v", "A=v\n"},
		{"A\r\nB=1\r\n", "A", "v", "A=v\r\nB=1\r\n"},
		{"A=1", "B", "2", "A=1\nB=2"},
		{"A=1\r\n", "B", "2", "A=1\r\nB=2\r\n"},
		{"A=\"x\"# c\n", "A", "y", "A=\"y\"# c\n"},
		{"A='x'# c\n", "A", "y", "A='y'# c\n"},
		{"A=x # c\n", "A", "", "A='' # c\n"},
		{"A=1\nA=2\n", "A", "3", "A=1\nA=3\n"},
		{"", "A", "1", "A=1\n"},
	}
	for _, c := range cases {
		d, err := Parse([]byte(c.in), nil)
		if err != nil {
			t.Fatal(err)
		}
		before := d.Clone()
		if err := d.Set(c.key, c.value); err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got := string(d.Bytes()); got != c.want {
			t.Errorf("set %s=%q in %q:\n got %q\nwant %q", c.key, c.value, c.in, got, c.want)
		}
		if err := verifyEdit(before, d, composeParse); err != nil {
			t.Errorf("%q: %v", c.in, err)
		}
	}
}

func TestEnvEditRefusals(t *testing.T) {
	d, _ := Parse([]byte("A=\"x\" B=2\nC=1\n"), nil)
	if err := d.Set("B", "3"); !errors.Is(err, ErrUneditable) {
		t.Errorf("set on a shared line: %v", err)
	}
	if _, err := d.Unset("A"); !errors.Is(err, ErrUneditable) {
		t.Errorf("unset on a shared line: %v", err)
	}
	for _, k := range []string{"", "1A", "A-B", "A B", "A=B", "ä"} {
		if err := d.Set(k, "v"); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("key %q: %v", k, err)
		}
	}
	if err := d.Set("C", "x\x00"); !errors.Is(err, ErrInvalidValue) || strings.Contains(err.Error(), "x") && strings.Contains(err.Error(), "x\x00") {
		t.Errorf("NUL: %v", err)
	}
	if got := string(d.Bytes()); got != "A=\"x\" B=2\nC=1\n" {
		t.Errorf("a refused edit changed the document: %q", got)
	}
}

func TestEnvSyntaxErrorsMaskSecrets(t *testing.T) {
	secret := func(k string) bool { return strings.Contains(k, "PASSWORD") }
	cases := []struct {
		in   string
		line int
	}{
		{"A=1\n\nDB_PASSWORD=\"canary-5ecret\nB=2\n", 3},
		{"A=1\nOTHER=\"visible-but-broken\n", 2},
		{"A=1\nBAD KEY=canary-5ecret\n", 2},
		{"X=1\nK@Y=canary-5ecret\n", 2},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.in), secret)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("%q: want a syntax error, got %v", c.in, err)
		}
		if se.Line != c.line {
			t.Errorf("%q: line %d, want %d (%v)", c.in, se.Line, c.line, err)
		}
		if strings.Contains(err.Error(), "canary") {
			t.Errorf("%q: the error shows the secret: %v", c.in, err)
		}
	}
	// an invalid ${…} never quotes the value (compose-go's error would)
	d, err := Parse([]byte("TOKEN=canary-${\n"), secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range d.Evaluate(nil) {
		if v.Err == nil || strings.Contains(v.Err.Error(), "canary") {
			t.Errorf("template error: %v", v.Err)
		}
	}
}

func TestEnvLineNumbers(t *testing.T) {
	d, err := Parse([]byte("# c\nA=1\n\nB=\"x\ny\"\nexport C=3\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, e := range d.Entries() {
		got += fmt.Sprintf("%s:%d-%d ", e.Key, e.Line, e.EndLine)
	}
	if got != "A:2-2 B:4-5 C:6-6 " {
		t.Errorf("lines: %s", got)
	}
	_ = utf8.RuneError
}

// scanEnvStreamForKey (what env get uses) reads every key of the test files
// to the same entry and value as the whole parse does — through windows so
// small that statements, quotes, comments and the BOM straddle them — or asks
// for the whole parse when the value refers to other settings.
func TestScanEnvStreamAgreesWithTheWholeParse(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "env", "*.env"))
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	extra := "\uFEFFA=1\nA=2 # twice\nB='x $y'\nC=\"q\\$r\"\nexport D = d\nE\nF=${A}\nG=\"multi\nline \\\" quote\"  # c\nH='a\n\nb'\n  # end\nI=last"
	lookup := func(k string) (string, bool) {
		if k == "E" {
			return "from-env", true
		}
		return "", false
	}
	texts := map[string]string{"extra": extra}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[f] = string(b)
	}
	for name, text := range texts {
		full, err := Parse([]byte(text), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		keys := map[string]bool{"NOT_THERE": true}
		for _, e := range full.Entries() {
			keys[e.Key] = true
		}
		for _, size := range []int{1, 3, 7, 16, 64, envWindow} {
			for k := range keys {
				light, whole, err := scanEnvStreamForKey(strings.NewReader(text), make([]byte, size), name, k, nil)
				if err != nil {
					t.Fatalf("%s %s window %d: %v", name, k, size, err)
				}
				fi := full.last(k)
				if !whole {
					if fi < 0 || !strings.Contains(full.stmts[fi].content, "$") {
						t.Errorf("%s %s window %d: asked for the whole parse without a $", name, k, size)
					}
					continue
				}
				li := light.last(k)
				if (fi < 0) != (li < 0) {
					t.Errorf("%s %s window %d: found %v by the whole parse, %v by the scan", name, k, size, fi >= 0, li >= 0)
					continue
				}
				if fi < 0 {
					continue
				}
				want := newLazyEval(full, lookup).value(fi)
				got := newLazyEval(light, lookup).value(li)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s %s window %d:\n got %+v\nwant %+v", name, k, size, got, want)
				}
			}
		}
	}
}

// A line Compose cannot read fails env get too, wherever it is, with the
// same message and line number as the whole parse.
func TestScanEnvStreamChecksEveryLine(t *testing.T) {
	for _, text := range []string{
		"A=1\nB=\"unterminated\n",
		"# c\nA=1\n\nB C=2\nD=4\n",
		"A=1\nB$=2\n",
		strings.Repeat("K=v\n", 5000) + "BAD KEY=1\n",
	} {
		_, want := Parse([]byte(text), nil)
		if want == nil {
			t.Fatalf("%q parses", text)
		}
		for _, size := range []int{2, 16, envWindow} {
			_, _, err := scanEnvStreamForKey(strings.NewReader(text), make([]byte, size), "t", "A", nil)
			if err == nil || err.Error() != want.Error() {
				t.Errorf("window %d: got %v, want %v", size, err, want)
			}
		}
	}
}
