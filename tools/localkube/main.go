// Command localkube is a real Kubernetes control plane for the local cloud: an embedded etcd, kube-apiserver,
// the kube-controller-manager controllers that workloads need, and simulated nodes that run every pod at once.
//
//	localkube up --dir DIR --port PORT      everything, until SIGTERM (the emulator starts one per AKS cluster)
//	localkube apiserver ARGS...            kube-apiserver, as its own process (up starts it)
//	localkube controller-manager ARGS...   kube-controller-manager, as its own process (up starts it)
//
// The API server and the controller manager keep process-wide state (flags, feature gates, metrics registries), so
// each runs in a process of its own, re-executing this binary; etcd and the node simulator share the supervisor.
package main

import (
	"fmt"
	"os"

	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: localkube up|apiserver|controller-manager ARGS...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "up":
		if err := up(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "localkube:", err)
			os.Exit(1)
		}
	case "apiserver":
		command := apiserver.NewAPIServerCommand()
		command.SetArgs(os.Args[2:])
		os.Exit(cli.Run(command))
	case "controller-manager":
		command := controllermanager.NewControllerManagerCommand()
		command.SetArgs(os.Args[2:])
		os.Exit(cli.Run(command))
	default:
		fmt.Fprintf(os.Stderr, "localkube: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
