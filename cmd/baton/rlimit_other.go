//go:build !unix

package main

import "go.uber.org/zap"

func logOpenFileLimit(*zap.Logger) {}
