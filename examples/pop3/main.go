// Command pop3 is an example of outbound; its code and documentation are in
// package pop3demo (go doc ./examples/pop3/pop3demo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/pop3/pop3demo"
)

func main() { example.Main("pop3", pop3demo.Run) }
