package imap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// ErrNotFound: FetchBody found no message with the UID in the selected
// mailbox.
var ErrNotFound = errors.New("no such message")

// FindMessageID returns the UIDs of the messages in the selected mailbox
// whose Message-ID header contains messageID (IMAP's SEARCH HEADER is a
// substring match, so give the whole id, angle brackets included), in
// ascending order. None found is an empty slice and a nil error.
//
// ctx bounds the search: when it ends first, the client is closed (go-imap
// commands cannot be cancelled otherwise) and the error wraps ctx's cause.
func FindMessageID(ctx context.Context, c *imapclient.Client, messageID string) ([]goimap.UID, error) {
	if messageID == "" || strings.ContainsAny(messageID, "\r\n") {
		return nil, errors.New("imap: FindMessageID: the Message-ID " + strconv.Quote(messageID) + " is empty or has a line break; pass the header's value")
	}
	stop := closeOnDone(ctx, c)
	data, err := c.UIDSearch(&goimap.SearchCriteria{
		Header: []goimap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: messageID}},
	}, nil).Wait()
	if err := ended(ctx, stop, err); err != nil {
		return nil, err
	}
	return data.AllUIDs(), nil
}

// FetchBody copies the raw message (RFC 5322, BODY.PEEK[]: the \Seen flag
// is left alone) with the given UID in the selected mailbox to w, streaming
// it, and returns the number of bytes copied. A message the server does not
// return is [ErrNotFound]. A connection that breaks mid-message is an error
// (never a short message reported as whole): the size the server announced
// is checked.
//
// ctx bounds the fetch as in [FindMessageID].
func FetchBody(ctx context.Context, c *imapclient.Client, uid goimap.UID, w io.Writer) (int64, error) {
	stop := closeOnDone(ctx, c)
	cmd := c.Fetch(goimap.UIDSetNum(uid), &goimap.FetchOptions{
		UID:         true,
		BodySection: []*goimap.FetchItemBodySection{{Peek: true}},
	})
	var n int64
	var copyErr error
	found := false
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			body, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok || found || body.Literal == nil {
				continue
			}
			found = true
			lr := &readErr{r: body.Literal}
			n, copyErr = io.Copy(w, lr)
			if size := body.Literal.Size(); n != size || lr.err != nil && lr.err != io.EOF {
				// The connection broke mid-message. go-imap has let its
				// reader go on, so reading the literal again (as
				// FetchCommand.Close would) races with it: close the
				// client and report the short message.
				c.Close()
				stop()
				cause := lr.err
				if cause == nil || cause == io.EOF {
					cause = io.ErrUnexpectedEOF
				}
				return n, fmt.Errorf("imap: FetchBody: UID %d: the connection ended after %d of the %d bytes the server announced: %w", uid, n, size, ctxErr(ctx, cause))
			}
		}
	}
	err := cmd.Close()
	if err == nil {
		err = copyErr
	}
	if err := ended(ctx, stop, err); err != nil {
		return n, err
	}
	if !found {
		return 0, fmt.Errorf("imap: FetchBody: UID %d: %w in the selected mailbox", uid, ErrNotFound)
	}
	return n, nil
}

// closeOnDone closes c when ctx ends; the returned func stops that and
// reports whether it had not happened.
func closeOnDone(ctx context.Context, c *imapclient.Client) func() bool {
	return context.AfterFunc(ctx, func() { c.Close() })
}

func ended(ctx context.Context, stop func() bool, err error) error {
	if !stop() {
		if err == nil {
			return context.Cause(ctx)
		}
		return ctxErr(ctx, err)
	}
	return err
}

// readErr remembers the error of its reader.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil {
		r.err = err
	}
	return n, err
}
