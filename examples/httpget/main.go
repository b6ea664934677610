// Command httpget is an example of outbound; its code and documentation are in
// package httpgetdemo (go doc ./examples/httpget/httpgetdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/httpget/httpgetdemo"
	"github.com/outboundhq/outbound/examples/internal/example"
)

func main() { example.Main("httpget", httpgetdemo.Run) }
