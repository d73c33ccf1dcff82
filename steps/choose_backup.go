package steps

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops/backup"
)

// ErrNoBackups is returned by ChooseBackup when there is nothing to choose.
var ErrNoBackups = errors.New("no backups yet")

// BackupLabel is one line describing a backup for people: id, time and
// age (two backups of the same minute still read apart), size, what it
// holds, tag, and whether it is encrypted or was verified.
func BackupLabel(b backup.Info, now time.Time) string {
	parts := []string{b.ID, fmt.Sprintf("%s (%s)", b.Created.Local().Format(time.DateTime), Ago(now.Sub(b.Created))), backup.HumanBytes(b.Size)}
	what := append(append([]string{}, b.Volumes...), b.Dumps...)
	if len(what) > 0 {
		parts = append(parts, strings.Join(what, ", "))
	} else {
		parts = append(parts, strings.Join(b.Services, ", "))
	}
	if b.Tag != "" {
		parts = append(parts, "tag "+b.Tag)
	}
	if b.Encrypted {
		parts = append(parts, "encrypted")
	}
	switch {
	case b.Verified == nil:
	case b.Verified.OK:
		parts = append(parts, "verified")
	default:
		parts = append(parts, "DAMAGED")
	}
	return strings.Join(parts, " · ")
}

// ChooseBackup asks which backup to use, newest first, each shown with its
// age, size and what it holds. It returns the index in backups.
func ChooseBackup(p Prompter, message string, backups []backup.Info, now time.Time) (int, error) {
	if len(backups) == 0 {
		return 0, ErrNoBackups
	}
	options := make([]string, len(backups))
	ids := map[string]int{}
	for _, b := range backups {
		ids[b.ID]++
	}
	for i, b := range backups {
		options[i] = BackupLabel(b, now)
		if ids[b.ID] > 1 { // an archive from elsewhere may carry another's id: the file tells them apart
			options[i] += " · " + b.File
		}
	}
	return p.Select(message, options, options[0])
}

// Ago renders a duration as people say it: "just now", "5 minutes ago", "3 days ago".
func Ago(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s ago", unit)
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour")
	default:
		return plural(int(d.Hours()/24), "day")
	}
}
