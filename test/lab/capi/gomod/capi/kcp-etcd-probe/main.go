// kcp-etcd-probe reaches a workload cluster's etcd exactly the way the
// KubeadmControlPlane controller does (cluster-api v1.14
// controlplane/kubeadm/pkg: GetWorkloadCluster + NewEtcdClientGenerator): a
// port-forward to pod kube-system/etcd-<node>, port 2379, through the
// workload API server, gRPC over TLS with a client certificate, the server
// certificate checked against the etcd CA without a host name. It prints the
// member list and alarms, so the lab can check that link without a cluster.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/cluster-api/controlplane/kubeadm/pkg/etcd"
	"sigs.k8s.io/cluster-api/controlplane/kubeadm/pkg/proxy"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the workload cluster")
	node := flag.String("node", "", "node name; the etcd pod is kube-system/etcd-<node>")
	caFile := flag.String("etcd-ca", "", "etcd CA certificate (PEM)")
	certFile := flag.String("client-cert", "", "etcd client certificate (PEM), as KCP signs with the etcd CA")
	keyFile := flag.String("client-key", "", "its key (PEM)")
	timeout := flag.Duration("timeout", 30*time.Second, "overall timeout")
	flag.Parse()
	if err := run(*kubeconfig, *node, *caFile, *certFile, *keyFile, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "kcp-etcd-probe: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig, node, caFile, certFile, keyFile string, timeout time.Duration) error {
	if kubeconfig == "" || node == "" || caFile == "" || certFile == "" || keyFile == "" {
		return errors.New("--kubeconfig, --node, --etcd-ca, --client-cert and --client-key are required")
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	restConfig.Timeout = 30 * time.Second // as GetWorkloadCluster sets it
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	clientCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("client certificate %s: %w", certFile, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	// The same settings as GetWorkloadCluster: chain check only, no host name.
	tlsConfig := &tls.Config{
		Certificates:       []tls.Certificate{clientCert},
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyConnection, as in KCP
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("etcd server presented no certificates")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		},
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	client, err := etcd.NewClient(ctx, etcd.ClientConfiguration{
		Endpoint:    "etcd-" + node,
		Proxy:       proxy.Proxy{Kind: "pods", Namespace: "kube-system", KubeConfig: restConfig, Port: 2379},
		TLSConfig:   tlsConfig,
		DialTimeout: 10 * time.Second, // KCP's --etcd-dial-timeout-duration default
		CallTimeout: 15 * time.Second, // KCP's --etcd-call-timeout-duration default
	})
	if err != nil {
		return err
	}
	defer client.Close()
	members, err := client.Members(ctx)
	if err != nil {
		return fmt.Errorf("member list: %w", err)
	}
	alarms, err := client.Alarms(ctx)
	if err != nil {
		return fmt.Errorf("alarms: %w", err)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"leaderID": client.LeaderID,
		"members":  members,
		"alarms":   alarms,
		"seconds":  time.Since(start).Seconds(),
	})
}
