//go:build tools

// Package kubewrapper only pins the peers built from k8s.io/kubernetes.
package kubewrapper

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
