package testenv

import "io"

// SetSkipNotes sends the skip notes to w until restore is called.
func SetSkipNotes(w io.Writer) (restore func()) {
	skipNotes.Lock()
	old, oldSeen := skipNotes.w, skipNotes.seen
	skipNotes.w, skipNotes.seen = w, nil
	skipNotes.Unlock()
	return func() {
		skipNotes.Lock()
		skipNotes.w, skipNotes.seen = old, oldSeen
		skipNotes.Unlock()
	}
}
