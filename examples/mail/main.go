// Command mail is an example of outbound; its code and documentation are in
// package maildemo (go doc ./examples/mail/maildemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/mail/maildemo"
)

func main() { example.Main("mail", maildemo.Run) }
