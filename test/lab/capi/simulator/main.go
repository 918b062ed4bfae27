// boot-simulator plays the machines of Cluster API workload clusters in the
// lab: where cloud-init and kubeadm would run on a Nova server, it starts a
// real etcd and kube-apiserver on loopback with the certificates Cluster API
// generated, kwok as the kubelets, and writes what kubeadm and the kubelet
// write (kubeadm-config, the control-plane mirror Pods, the Nodes with CAPO's
// provider IDs). It patches nothing in CAPI, CAPO or ORC: it only watches
// OpenStackMachines on the management cluster and acts when CAPO has set a
// provider ID (the server is ACTIVE).
//
// Scope: one control-plane machine per cluster (a second one would need a
// fake etcd membership, see test/lab/capi/README.md); workers get a Node.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// binaries are the programs a simulated control plane runs.
type binaries struct {
	etcd, apiserver, controllerManager, kwok, kwokStages string
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the management cluster")
	k8sBin := flag.String("k8s-bin", "", "directory with etcd, kube-apiserver and kwok-stages.yaml (test/lab/k8s/build.sh --print-dir)")
	kwok := flag.String("kwok", "", "kwok binary")
	stateDir := flag.String("state-dir", "", "directory for the simulated clusters' certificates, data and logs")
	interval := flag.Duration("interval", 2*time.Second, "how often to look at the OpenStackMachines")
	flag.Parse()
	for name, v := range map[string]string{"--kubeconfig": *kubeconfig, "--k8s-bin": *k8sBin, "--kwok": *kwok, "--state-dir": *stateDir} {
		if v == "" {
			log.Fatalf("boot-simulator: %s is required", name)
		}
	}
	bins := binaries{
		etcd: filepath.Join(*k8sBin, "etcd"), apiserver: filepath.Join(*k8sBin, "kube-apiserver"),
		controllerManager: filepath.Join(*k8sBin, "kube-controller-manager"),
		kwok:              *kwok, kwokStages: filepath.Join(*k8sBin, "kwok-stages.yaml"),
	}
	for _, f := range []string{bins.etcd, bins.apiserver, bins.controllerManager, bins.kwok, bins.kwokStages} {
		if _, err := os.Stat(f); err != nil {
			log.Fatalf("boot-simulator: %v", err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("boot-simulator: kubeconfig %s: %v", *kubeconfig, err)
	}
	sim := &simulator{bins: bins, stateDir: *stateDir, workloads: map[string]*workload{}}
	if sim.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		log.Fatal(err)
	}
	if sim.core, err = kubernetes.NewForConfig(cfg); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	log.Printf("boot-simulator: watching OpenStackMachines every %s (state in %s)", *interval, *stateDir)
	for {
		if err := sim.reconcile(ctx); err != nil && ctx.Err() == nil {
			log.Printf("boot-simulator: %v", err)
		}
		select {
		case <-ctx.Done():
			sim.stopAll()
			log.Printf("boot-simulator: stopped")
			return
		case <-time.After(*interval):
		}
	}
}

type simulator struct {
	bins      binaries
	stateDir  string
	dyn       dynamic.Interface
	core      kubernetes.Interface
	workloads map[string]*workload // by namespace/cluster
	failures  map[string]string    // last error per key, logged once
}

func (s *simulator) stopAll() {
	for key, w := range s.workloads {
		log.Printf("boot-simulator: stopping the control plane of %s", key)
		w.stop()
	}
}

// note logs an error once per key until it changes (the loop retries every few seconds).
func (s *simulator) note(key string, err error) {
	if s.failures == nil {
		s.failures = map[string]string{}
	}
	msg := fmt.Sprint(err)
	if s.failures[key] != msg {
		log.Printf("boot-simulator: %s: %s", key, msg)
		s.failures[key] = msg
	}
}
