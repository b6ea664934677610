// Command telemetry is an example of outbound; its code and documentation are
// in package telemetrydemo (go doc ./examples/telemetry/telemetrydemo).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/outboundhq/outbound/examples/telemetry/telemetrydemo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := telemetrydemo.Run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "telemetry:", err)
		os.Exit(1)
	}
}
