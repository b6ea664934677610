// Command irc is an example of outbound; its code and documentation are in
// package ircdemo (go doc ./examples/irc/ircdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/irc/ircdemo"
)

func main() { example.Main("irc", ircdemo.Run) }
