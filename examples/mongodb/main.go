// Command mongodb is an example of outbound; its code and documentation are in
// package mongodbdemo (go doc ./examples/mongodb/mongodbdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/mongodb/mongodbdemo"
)

func main() { example.Main("mongodb", mongodbdemo.Run) }
