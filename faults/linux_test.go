package faults_test

import "runtime"

const isLinux = runtime.GOOS == "linux"
