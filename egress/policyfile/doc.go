// Package policyfile reads egress policy files, in YAML or JSON, into an
// [egress.PolicyConfig] ([Parse], [Load]) and reloads a running program's
// [egress.PolicyHolder] from one ([Reload]). Every error is an [*Error]
// naming the file, the line and what to write instead; unknown keys are
// errors, so a typo cannot silently drop a rule.
//
// It is the only package of this module that imports a YAML parser.
package policyfile
