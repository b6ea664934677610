// Command mysql is an example of outbound; its code and documentation are in
// package mysqldemo (go doc ./examples/mysql/mysqldemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/mysql/mysqldemo"
)

func main() { example.Main("mysql", mysqldemo.Run) }
