// Command close is an example of outbound; its code and documentation are in
// package closedemo (go doc ./examples/close/closedemo).
package main

import (
	"github.com/outboundhq/outbound/examples/close/closedemo"
	"github.com/outboundhq/outbound/examples/internal/example"
)

func main() { example.Main("close", closedemo.Run) }
