//go:build race

package main

// raceDetector is whether the tests run under -race, which multiplies the
// CPU each of them needs.
const raceDetector = true
