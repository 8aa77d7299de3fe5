// Command etcd is etcd's own server (go.etcd.io/etcd/server/v3, at the version that
// k8s.io/kubernetes requires), built here because the server module's go.mod has replace
// directives and so cannot be installed with `go install module@version`.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
