// Command redis is an example of outbound; its code and documentation are in
// package redisdemo (go doc ./examples/redis/redisdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/redis/redisdemo"
)

func main() { example.Main("redis", redisdemo.Run) }
