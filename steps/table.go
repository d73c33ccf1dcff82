package steps

import (
	"io"
	"strings"
)

// Table prints aligned columns. Cells may hold color codes; widths are
// measured on visible text. The last column is not padded.
type Table struct {
	headers []string
	rows    [][]string
	cs      *ColorScheme
}

// NewTable starts a table with the given headers, printed in bold when cs colors.
func NewTable(cs *ColorScheme, headers ...string) *Table {
	return &Table{headers: headers, cs: cs}
}

// AddRow appends a row; missing cells are empty.
func (t *Table) AddRow(cells ...string) {
	t.rows = append(t.rows, cells)
}

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Render writes the table.
func (t *Table) Render(w io.Writer) error {
	n := len(t.headers)
	for _, r := range t.rows {
		if len(r) > n {
			n = len(r)
		}
	}
	widths := make([]int, n)
	all := append([][]string{t.headers}, t.rows...)
	for _, r := range all {
		for i, c := range r {
			if w := VisibleWidth(c); w > widths[i] {
				widths[i] = w
			}
		}
	}
	var b strings.Builder
	for ri, r := range all {
		for i := 0; i < n; i++ {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			if ri == 0 && t.cs != nil {
				c = t.cs.Bold(c)
			}
			b.WriteString(c)
			if i < n-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-VisibleWidth(c)+3))
			}
		}
		// no trailing spaces
		line := strings.TrimRight(b.String(), " ")
		b.Reset()
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			return err
		}
	}
	return nil
}
