// Command pause holds a pod's namespaces for its containers, as the
// Kubernetes pause image does: it waits for a signal to stop.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
