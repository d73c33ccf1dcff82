package steps

import (
	"fmt"
	"regexp"
	"sync"
	"unicode/utf8"

	"github.com/fatih/color"
)

// ColorScheme colors text for one stream. fatih/color decides from stdout
// alone by default; each scheme forces its own decision instead, so stderr
// can be colored while stdout is piped, and the other way round.
type ColorScheme struct {
	enabled bool
}

// NewColorScheme returns a palette that colors only when enabled.
func NewColorScheme(enabled bool) *ColorScheme { return &ColorScheme{enabled: enabled} }

// Enabled reports whether this scheme emits escape codes.
func (c *ColorScheme) Enabled() bool { return c.enabled }

func (c *ColorScheme) paint(s string, attrs ...color.Attribute) string {
	if !c.enabled {
		return s
	}
	col := color.New(attrs...)
	col.EnableColor()
	return col.Sprint(s)
}

// Bold makes s bold.
func (c *ColorScheme) Bold(s string) string { return c.paint(s, color.Bold) }

// Green is for success.
func (c *ColorScheme) Green(s string) string { return c.paint(s, color.FgGreen) }

// Red is for failure.
func (c *ColorScheme) Red(s string) string { return c.paint(s, color.FgRed) }

// Yellow is for warnings and degraded states.
func (c *ColorScheme) Yellow(s string) string { return c.paint(s, color.FgYellow) }

// Cyan is for names and commands to copy.
func (c *ColorScheme) Cyan(s string) string { return c.paint(s, color.FgCyan) }

// Gray is for secondary detail.
func (c *ColorScheme) Gray(s string) string { return c.paint(s, color.FgHiBlack) }

// Color paints s with one of a fixed set of colors chosen by index; used to
// give each service a stable color in merged output.
func (c *ColorScheme) Color(i int, s string) string {
	palette := []color.Attribute{color.FgCyan, color.FgYellow, color.FgGreen, color.FgMagenta, color.FgBlue, color.FgHiCyan, color.FgHiYellow, color.FgHiGreen, color.FgHiMagenta, color.FgHiBlue}
	if i < 0 {
		i = -i
	}
	return c.paint(s, palette[i%len(palette)])
}

// SuccessIcon is ✓ in green.
func (c *ColorScheme) SuccessIcon() string { return c.Green("✓") }

// FailureIcon is ✗ in red.
func (c *ColorScheme) FailureIcon() string { return c.Red("✗") }

// WarningIcon is ! in yellow.
func (c *ColorScheme) WarningIcon() string { return c.Yellow("!") }

// Sprintf is fmt.Sprintf, for symmetry in call sites.
func (c *ColorScheme) Sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// ansiRe is compiled on first use, not at start-up.
var ansiRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]") })

// StripANSI removes escape sequences.
func StripANSI(s string) string { return ansiRe().ReplaceAllString(s, "") }

// VisibleWidth is the number of runes a string shows, ignoring escape codes.
func VisibleWidth(s string) int { return utf8.RuneCountInString(StripANSI(s)) }
