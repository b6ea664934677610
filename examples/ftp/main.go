// Command ftp is an example of outbound; its code and documentation are in
// package ftpdemo (go doc ./examples/ftp/ftpdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/ftp/ftpdemo"
	"github.com/outboundhq/outbound/examples/internal/example"
)

func main() { example.Main("ftp", ftpdemo.Run) }
