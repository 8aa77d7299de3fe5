// Command skaffold is skaffold's own command line (its cmd/skaffold/app), built here because its
// module's go.mod has replace directives and so cannot be installed with `go install`.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold/app"
)

func main() {
	code := 0
	if err := app.Run(os.Stdout, os.Stderr); err != nil && !errors.Is(err, context.Canceled) {
		code = app.ExitCode(err)
	}
	os.Exit(code)
}
