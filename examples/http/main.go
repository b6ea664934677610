// Command http is an example of outbound; its code and documentation are in
// package httpdemo (go doc ./examples/http/httpdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/http/httpdemo"
	"github.com/outboundhq/outbound/examples/internal/example"
)

func main() { example.Main("http", httpdemo.Run) }
