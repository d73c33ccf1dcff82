package wizard

import (
	"strings"

	"github.com/spf13/pflag"
)

// repeatedValue is a repeatable string flag (-f a -f b), each use one item
// taken as it is — commas included, like pflag's StringArray. It exists
// because pflag renders a StringArray's default through encoding/csv when the
// flag is defined, which every run of stackpilot paid for at start-up.
type repeatedValue struct {
	items   *[]string
	changed bool
}

// repeatedFlag defines a repeatable string flag on fs (shorthand may be "").
func repeatedFlag(fs *pflag.FlagSet, p *[]string, name, shorthand, usage string) {
	fs.VarP(&repeatedValue{items: p}, name, shorthand, usage)
}

func (r *repeatedValue) Set(v string) error {
	if !r.changed {
		*r.items = nil // the first use replaces any default
		r.changed = true
	}
	*r.items = append(*r.items, v)
	return nil
}

// Type names the value in --help as pflag names its StringArray.
func (r *repeatedValue) Type() string { return "stringArray" }

// String is empty for no items, so --help shows no "(default …)".
func (r *repeatedValue) String() string {
	if len(*r.items) == 0 {
		return ""
	}
	return "[" + strings.Join(*r.items, ",") + "]"
}

// Append, Replace and GetSlice make it a pflag.SliceValue.
func (r *repeatedValue) Append(v string) error {
	*r.items = append(*r.items, v)
	return nil
}

func (r *repeatedValue) Replace(vs []string) error {
	*r.items = append([]string(nil), vs...)
	return nil
}

func (r *repeatedValue) GetSlice() []string { return append([]string(nil), *r.items...) }
