// Command smtp is an example of outbound; its code and documentation are in
// package smtpdemo (go doc ./examples/smtp/smtpdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/smtp/smtpdemo"
)

func main() { example.Main("smtp", smtpdemo.Run) }
