//go:build tools

// Package tools records the commands this module builds, so that `go mod tidy` keeps their
// dependencies in go.sum. scripts/k8s-local.sh runs `go build` on each of them (kubelet only for
// `up --node`).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
