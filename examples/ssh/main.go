// Command ssh is an example of outbound; its code and documentation are in
// package sshdemo (go doc ./examples/ssh/sshdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/ssh/sshdemo"
)

func main() { example.Main("ssh", sshdemo.Run) }
