package smtp

import (
	"errors"
	"net/textproto"
	"strings"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
)

func TestSMTPErr(t *testing.T) {
	tests := []struct {
		code     int
		msg      string
		enhanced gosmtp.EnhancedCode
		text     string
	}{
		{454, "4.7.0 TLS not available due to local problem", gosmtp.EnhancedCode{4, 7, 0}, "TLS not available due to local problem"},
		{554, "5.7.1 first line\n5.7.1 second line", gosmtp.EnhancedCode{5, 7, 1}, "first line\nsecond line"},
		{421, "mx.example.com Service not available", gosmtp.EnhancedCode{}, "mx.example.com Service not available"},
		{550, "5.1 not an enhanced code", gosmtp.EnhancedCode{}, "5.1 not an enhanced code"},
		{550, "x.y.z no", gosmtp.EnhancedCode{}, "x.y.z no"},
		{500, "", gosmtp.EnhancedCode{}, ""},
	}
	for _, tt := range tests {
		err := smtpErr(&textproto.Error{Code: tt.code, Msg: tt.msg})
		var se *gosmtp.SMTPError
		if !errors.As(err, &se) {
			t.Fatalf("%q: %T, want *SMTPError", tt.msg, err)
		}
		if se.Code != tt.code || se.EnhancedCode != tt.enhanced || se.Message != tt.text {
			t.Errorf("%q: got %d %v %q, want %d %v %q", tt.msg, se.Code, se.EnhancedCode, se.Message, tt.code, tt.enhanced, tt.text)
		}
	}
	other := errors.New("read: connection reset")
	if got := smtpErr(other); got != other {
		t.Errorf("smtpErr changed a non-reply error: %v", got)
	}
}

func TestHasExtension(t *testing.T) {
	reply := "mx.example.com Hello\nPIPELINING\nSIZE 10240000\nstarttls\nAUTH PLAIN LOGIN"
	tests := []struct {
		ext  string
		want bool
	}{
		{"STARTTLS", true}, {"SIZE", true}, {"AUTH", true}, {"PIPELINING", true},
		{"8BITMIME", false}, {"PLAIN", false}, {"mx.example.com", false},
	}
	for _, tt := range tests {
		if got := hasExtension(reply, tt.ext); got != tt.want {
			t.Errorf("hasExtension(%q) = %v, want %v", tt.ext, got, tt.want)
		}
	}
	if hasExtension("STARTTLS", "STARTTLS") {
		t.Error("the greeting line of an EHLO reply is not an extension")
	}
}

// FuzzReply feeds arbitrary server reply text to the parsers of the
// STARTTLS dialogue: they must not panic, and a parsed enhanced code must
// come from the text.
func FuzzReply(f *testing.F) {
	for _, s := range []string{
		"mx Hello\nSTARTTLS",
		"4.7.0 TLS not available",
		"5.7.1 a\n5.7.1 b",
		"2.0.0",
		"9999999999999999999.1.1 x",
		"-1.-2.-3 neg",
		"",
	} {
		f.Add(550, s)
	}
	f.Fuzz(func(t *testing.T, code int, msg string) {
		hasExtension(msg, "STARTTLS")
		err := smtpErr(&textproto.Error{Code: code, Msg: msg})
		var se *gosmtp.SMTPError
		if !errors.As(err, &se) || se.Code != code {
			t.Fatalf("smtpErr(%d, %q) = %v", code, msg, err)
		}
		if se.EnhancedCode != (gosmtp.EnhancedCode{}) && !strings.Contains(msg, " ") {
			t.Fatalf("enhanced code %v from %q, which has no text after a code", se.EnhancedCode, msg)
		}
	})
}
