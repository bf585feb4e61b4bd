// Command xjp is a local-first AI gateway. See 'xjp --help'.
package main

import (
	"os"

	"github.com/rickyjim626/xjp/internal/cli"
)

func main() { os.Exit(int(cli.Main())) }
