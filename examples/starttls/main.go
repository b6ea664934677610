// Command starttls is an example of outbound; its code and documentation are in
// package starttlsdemo (go doc ./examples/starttls/starttlsdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/starttls/starttlsdemo"
)

func main() { example.Main("starttls", starttlsdemo.Run) }
