// Package composetest holds no code, only a test: it parses the repository's
// compose.yaml and checks that the servers it defines listen on the ports and
// accept the credentials that internal/testenv's defaults (which .ci/run
// exports, and which the tests and the tour read) name, each with a health
// check. There is no Docker engine on the machines that run CI, so this test
// is what keeps compose.yaml and the tests from drifting apart.
package composetest
