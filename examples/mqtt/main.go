// Command mqtt is an example of outbound; its code and documentation are in
// package mqttdemo (go doc ./examples/mqtt/mqttdemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/mqtt/mqttdemo"
)

func main() { example.Main("mqtt", mqttdemo.Run) }
