// Command eldersafe is the monitor that keeps elderly people who live alone
// safe, and its tools. See `eldersafe --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// Time zones work on machines without zoneinfo (minimal containers).
	_ "time/tzdata"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "eldersafe",
		Short:         "Keeps elderly people who live alone safe: sensors in, home visits out",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), configCommand(), devicesCommand(), auditCommand())
	root.AddCommand(simulateCommand())
	root.AddCommand(demoCommand())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "eldersafe:", err)
		os.Exit(1)
	}
}
