// Package composetest holds no code, only a test: it loads the repository's
// compose.yaml with the Compose specification's own loader
// (github.com/compose-spec/compose-go/v2, as docker compose does, schema
// validation included) and checks it, the Debian image it builds
// (.ci/docker) and .ci/run against internal/testenv: every service known and
// pinned, every server variable's port started by a .ci/setup script and
// tried by the health check, the credentials the defaults log in with, the
// certificate and mailbox mounts. There is no Docker engine on the machines
// that run CI, so this test is what keeps compose.yaml and the tests from
// drifting apart; TestCheckFindsDrift proves it fails on each kind of drift.
package composetest
