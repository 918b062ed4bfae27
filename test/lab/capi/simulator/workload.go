package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// clusterFacts is what the simulator needs from the management cluster to
// boot one workload control plane.
type clusterFacts struct {
	namespace, name   string
	endpointHost      string
	endpointPort      int
	serviceCIDR       string
	podCIDR           string
	kubernetesVersion string
	ca, etcdCA        *authority
	saKeyPEM          []byte // <cluster>-sa tls.key: signs ServiceAccount tokens
	saPubPEM          []byte // <cluster>-sa tls.crt: the public key
	frontProxyCA      []byte // <cluster>-proxy tls.crt
}

// workload is one simulated control plane: a real etcd named after the first
// control-plane node, a real kube-apiserver on the control-plane endpoint,
// and kwok playing the kubelets (Nodes Ready, Pods Running, port-forwards).
type workload struct {
	facts     clusterFacts
	firstNode string
	dir       string
	procs     *processes
	client    kubernetes.Interface
	nodes     map[string]bool // nodes already registered
}

// bootWorkload starts etcd, kube-apiserver and kwok for the cluster whose
// first control-plane machine is firstNode, and writes kubeadm-config.
func bootWorkload(ctx context.Context, bins binaries, stateDir string, f clusterFacts, firstNode string) (*workload, error) {
	host := net.ParseIP(f.endpointHost)
	if host == nil || !host.IsLoopback() {
		// The lab's rule: the simulator serves on loopback only (never the
		// floating-IP range of the lab OpenStack).
		return nil, fmt.Errorf("cluster %s/%s: controlPlaneEndpoint host %q is not a loopback address (set OpenStackCluster spec.controlPlaneEndpoint to 127.0.N.1 and disableAPIServerFloatingIP: true)", f.namespace, f.name, f.endpointHost)
	}
	dir := filepath.Join(stateDir, f.namespace+"_"+f.name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		return nil, err
	}
	pki := filepath.Join(dir, "pki")
	serviceIP, err := firstServiceIP(f.serviceCIDR)
	if err != nil {
		return nil, fmt.Errorf("cluster %s/%s: services CIDR: %w", f.namespace, f.name, err)
	}
	steps := []struct {
		ca   *authority
		base string
		leaf leaf
	}{
		{f.ca, "apiserver", leaf{commonName: "kube-apiserver", server: true,
			ips:      []net.IP{host, net.IPv4(127, 0, 0, 1), serviceIP},
			dnsNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", firstNode}}},
		{f.ca, "admin", leaf{commonName: "capi-lab-boot-simulator", organization: []string{"system:masters"}, client: true}},
		{f.ca, "kwok", leaf{commonName: "kwok", organization: []string{"system:masters"}, client: true}},
		{f.ca, "controller-manager", leaf{commonName: "system:kube-controller-manager", client: true}},
		{f.etcdCA, "etcd-server", leaf{commonName: firstNode, server: true, client: true,
			ips: []net.IP{net.IPv4(127, 0, 0, 1)}, dnsNames: []string{"localhost", firstNode}}},
		{f.etcdCA, "apiserver-etcd-client", leaf{commonName: "kube-apiserver-etcd-client", client: true}},
	}
	for _, s := range steps {
		if err := s.ca.sign(pki, s.base, s.leaf); err != nil {
			return nil, err
		}
	}
	files := map[string][]byte{"ca.crt": f.ca.certPEM, "ca.key": f.ca.keyPEM, "etcd-ca.crt": f.etcdCA.certPEM, "sa.key": f.saKeyPEM, "sa.pub": f.saPubPEM}
	if len(f.frontProxyCA) > 0 {
		files["front-proxy-ca.crt"] = f.frontProxyCA
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(pki, name), data, 0o600); err != nil {
			return nil, err
		}
	}

	w := &workload{facts: f, firstNode: firstNode, dir: dir, procs: &processes{dir: dir}, nodes: map[string]bool{}}
	ok := false
	defer func() {
		if !ok {
			w.procs.stop()
		}
	}()
	etcdPort, err1 := freePort()
	peerPort, err2 := freePort()
	kwokPort, err3 := freePort()
	if err := firstErr(err1, err2, err3); err != nil {
		return nil, err
	}
	etcdURL := "https://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	if err := w.procs.start("etcd", bins.etcd,
		"--name="+firstNode, "--data-dir="+filepath.Join(dir, "etcd-data"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster="+firstNode+"="+peerURL,
		"--cert-file="+pki+"/etcd-server.crt", "--key-file="+pki+"/etcd-server.key",
		"--client-cert-auth", "--trusted-ca-file="+pki+"/etcd-ca.crt",
		"--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "etcd on "+etcdURL, 60*time.Second, tcpOpen("127.0.0.1:"+strconv.Itoa(etcdPort))); err != nil {
		return nil, err
	}

	endpoint := net.JoinHostPort(f.endpointHost, strconv.Itoa(f.endpointPort))
	apiArgs := []string{
		"--etcd-servers=" + etcdURL, "--etcd-cafile=" + pki + "/etcd-ca.crt",
		"--etcd-certfile=" + pki + "/apiserver-etcd-client.crt", "--etcd-keyfile=" + pki + "/apiserver-etcd-client.key",
		"--bind-address=" + f.endpointHost, "--advertise-address=" + f.endpointHost, "--secure-port=" + strconv.Itoa(f.endpointPort),
		"--tls-cert-file=" + pki + "/apiserver.crt", "--tls-private-key-file=" + pki + "/apiserver.key",
		"--client-ca-file=" + pki + "/ca.crt", "--service-cluster-ip-range=" + f.serviceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki + "/sa.pub", "--service-account-signing-key-file=" + pki + "/sa.key",
		"--authorization-mode=Node,RBAC", "--enable-bootstrap-token-auth", "--allow-privileged=true",
		"--endpoint-reconciler-type=none", "--kubelet-preferred-address-types=InternalIP",
		"--profiling=false", "--v=1",
	}
	if len(f.frontProxyCA) > 0 {
		apiArgs = append(apiArgs, "--requestheader-client-ca-file="+pki+"/front-proxy-ca.crt",
			"--requestheader-allowed-names=front-proxy-client", "--requestheader-username-headers=X-Remote-User",
			"--requestheader-group-headers=X-Remote-Group", "--requestheader-extra-headers-prefix=X-Remote-Extra-")
	}
	if err := w.procs.start("kube-apiserver", bins.apiserver, apiArgs...); err != nil {
		return nil, err
	}
	tlsCfg, err := clientTLS(pki)
	if err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "kube-apiserver https://"+endpoint+"/readyz", 120*time.Second, httpOK(httpsClient(tlsCfg), "https://"+endpoint+"/readyz")); err != nil {
		return nil, err
	}
	w.client, err = kubernetes.NewForConfig(&rest.Config{
		Host: "https://" + endpoint, Timeout: 20 * time.Second,
		TLSClientConfig: rest.TLSClientConfig{CAFile: pki + "/ca.crt", CertFile: pki + "/admin.crt", KeyFile: pki + "/admin.key"},
	})
	if err != nil {
		return nil, err
	}
	for _, user := range []string{"kwok", "controller-manager"} {
		if err := writeKubeconfig(filepath.Join(dir, user+".kubeconfig"), "https://"+endpoint, pki, user); err != nil {
			return nil, err
		}
	}
	// kube-controller-manager as kubeadm runs it: the node lifecycle
	// controller clears the not-ready taint of Ready nodes, and the workload
	// cluster gets garbage collection, namespace deletion, ServiceAccount
	// tokens and bootstrap-token signing. Serving off (--secure-port=0).
	if err := w.procs.start("kube-controller-manager", bins.controllerManager,
		"--kubeconfig="+filepath.Join(dir, "controller-manager.kubeconfig"),
		"--controllers=*,bootstrapsigner,tokencleaner", "--cluster-name="+f.name,
		"--cluster-signing-cert-file="+pki+"/ca.crt", "--cluster-signing-key-file="+pki+"/ca.key",
		"--root-ca-file="+pki+"/ca.crt", "--service-account-private-key-file="+pki+"/sa.key",
		"--use-service-account-credentials=true", "--leader-elect=false", "--secure-port=0",
		"--profiling=false", "--v=1"); err != nil {
		return nil, err
	}
	if err := writeKwokConfig(filepath.Join(dir, "kwok.yaml"), bins.kwokStages, etcdPort, f.endpointHost, f.endpointPort); err != nil {
		return nil, err
	}
	if err := w.procs.start("kwok", bins.kwok, "--kubeconfig="+filepath.Join(dir, "kwok.kubeconfig"),
		"--config="+filepath.Join(dir, "kwok.yaml"), "--manage-all-nodes=true",
		"--node-ip=127.0.0.1", "--node-port="+strconv.Itoa(kwokPort),
		"--server-address=127.0.0.1:"+strconv.Itoa(kwokPort), "--cidr="+f.podCIDR,
		// Node leases renewed every 10 s, as a kubelet does: without them the
		// node lifecycle controller marks each Node Unknown after its grace
		// period and sets every Pod on it NotReady; kwok makes the Node Ready
		// again but never the Running Pods (its pod-ready stage only takes
		// Pending ones), so KCP would see its control-plane Pods unhealthy.
		"--node-lease-duration-seconds=40", "--v=WARN"); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, "kwok /healthz", 60*time.Second, httpOK(httpsClient(nil), "http://127.0.0.1:"+strconv.Itoa(kwokPort)+"/healthz")); err != nil {
		return nil, err
	}
	if err := writeKubeadmConfig(ctx, w.client, f); err != nil {
		return nil, err
	}
	ok = true
	return w, nil
}

func (w *workload) stop() { w.procs.stop() }

func clientTLS(pki string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(pki + "/ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(pki+"/admin.crt", pki+"/admin.key")
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// firstServiceIP is the address kubeadm puts in the apiserver certificate for
// the in-cluster "kubernetes" Service: the first host of the services CIDR.
func firstServiceIP(cidr string) (net.IP, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	ip := n.IP.To4()
	if ip == nil {
		return nil, fmt.Errorf("%s: only IPv4 service ranges are simulated", cidr)
	}
	out := make(net.IP, 4)
	copy(out, ip)
	out[3]++
	return out, nil
}

func writeKubeconfig(path, server, pki, user string) error {
	text := strings.Join([]string{
		"apiVersion: v1", "kind: Config",
		"clusters:", "- name: workload", "  cluster:", "    server: " + server, "    certificate-authority: " + pki + "/ca.crt",
		"users:", "- name: " + user, "  user:", "    client-certificate: " + pki + "/" + user + ".crt", "    client-key: " + pki + "/" + user + ".key",
		"contexts:", "- name: workload", "  context: {cluster: workload, user: " + user + "}",
		"current-context: workload", "",
	}, "\n")
	return os.WriteFile(path, []byte(text), 0o600)
}

// writeKwokConfig: kwok's stages (standalone kwok needs them) plus the
// ClusterPortForward KCP relies on: pods/portforward to kube-system Pods on
// 2379 reaches the etcd, on 6443 the kube-apiserver.
func writeKwokConfig(path, stagesFile string, etcdPort int, apiHost string, apiPort int) error {
	stages, err := os.ReadFile(stagesFile)
	if err != nil {
		return fmt.Errorf("kwok stages %s: %w", stagesFile, err)
	}
	forward := fmt.Sprintf(`
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: control-plane
spec:
  selector:
    matchNamespaces: [kube-system]
  forwards:
  - ports: [2379]
    target: {address: 127.0.0.1, port: %d}
  - ports: [6443]
    target: {address: %s, port: %d}
`, etcdPort, apiHost, apiPort)
	return os.WriteFile(path, append(stages, []byte(forward)...), 0o600)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
