// Command postgres is an example of outbound; its code and documentation are in
// package postgresdemo (go doc ./examples/postgres/postgresdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/postgres/postgresdemo"
)

func main() { example.Main("postgres", postgresdemo.Run) }
