// Command egress is an example of outbound; its code and documentation are in
// package egressdemo (go doc ./examples/egress/egressdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/egress/egressdemo"
	"github.com/outboundhq/outbound/examples/internal/example"
)

func main() { example.Main("egress", egressdemo.Run) }
