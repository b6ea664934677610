// Command halfopen is an example of outbound; its code and documentation are in
// package halfopendemo (go doc ./examples/halfopen/halfopendemo).
package main

import (
	"github.com/outboundhq/outbound/examples/halfopen/halfopendemo"
	"github.com/outboundhq/outbound/examples/internal/example"
)

func main() { example.Main("halfopen", halfopendemo.Run) }
