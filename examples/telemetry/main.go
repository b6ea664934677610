// Command telemetry is an example of outbound; its code and documentation are
// in package telemetrydemo (go doc ./examples/telemetry/telemetrydemo).
package main

import (
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/telemetry/telemetrydemo"
)

func main() { example.Main("telemetry", telemetrydemo.Run) }
