// Command gopher is an example of outbound; its code and documentation are in
// package gopherdemo (go doc ./examples/gopher/gopherdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/gopher/gopherdemo"
	"github.com/outboundhq/outbound/examples/internal/example"
)

func main() { example.Main("gopher", gopherdemo.Run) }
