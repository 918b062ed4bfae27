package main

import (
	"context"
	"fmt"
	"log"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cluster-api/util/secret"
)

var (
	openStackMachines = schema.GroupVersionResource{Group: "infrastructure.cluster.x-k8s.io", Version: "v1beta1", Resource: "openstackmachines"}
	clusters          = schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "clusters"}
	controlPlanes     = schema.GroupVersionResource{Group: "controlplane.cluster.x-k8s.io", Version: "v1beta2", Resource: "kubeadmcontrolplanes"}
	machinesResource  = schema.GroupVersionResource{Group: "cluster.x-k8s.io", Version: "v1beta2", Resource: "machines"}
)

const (
	clusterNameLabel  = "cluster.x-k8s.io/cluster-name"
	controlPlaneLabel = "cluster.x-k8s.io/control-plane"
)

// reconcile boots what has a server and stops what has no Cluster any more.
func (s *simulator) reconcile(ctx context.Context) error {
	list, err := s.dyn.Resource(openStackMachines).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing OpenStackMachines: %w", err)
	}
	// Control-plane machines first, oldest first: the first one runs `kubeadm init`.
	machines := list.Items
	sort.SliceStable(machines, func(i, j int) bool {
		ci, cj := isControlPlane(&machines[i]), isControlPlane(&machines[j])
		if ci != cj {
			return ci
		}
		ti, tj := machines[i].GetCreationTimestamp(), machines[j].GetCreationTimestamp()
		return ti.Before(&tj)
	})
	for i := range machines {
		m := &machines[i]
		providerID, _, _ := unstructured.NestedString(m.Object, "spec", "providerID")
		clusterName := m.GetLabels()[clusterNameLabel]
		if providerID == "" || clusterName == "" || m.GetDeletionTimestamp() != nil {
			continue
		}
		key := m.GetNamespace() + "/" + clusterName
		w := s.workloads[key]
		if w == nil {
			if !isControlPlane(m) {
				continue // a worker waits for the control plane
			}
			facts, err := s.clusterFacts(ctx, m.GetNamespace(), clusterName)
			if err != nil {
				s.note(key, err)
				continue
			}
			log.Printf("boot-simulator: %s: booting the control plane on %s (%s), endpoint %s:%d", key, m.GetName(), providerID, facts.endpointHost, facts.endpointPort)
			if w, err = bootWorkload(ctx, s.bins, s.stateDir, facts, m.GetName()); err != nil {
				s.note(key, err)
				continue
			}
			s.workloads[key] = w
			log.Printf("boot-simulator: %s: etcd, kube-apiserver and kwok up; kubeadm-config written", key)
		}
		if w.nodes[m.GetName()] {
			continue
		}
		version, err := s.machineVersion(ctx, m)
		if err != nil {
			s.note(key+" node "+m.GetName(), err)
			continue
		}
		if err := w.register(ctx, m.GetName(), providerID, version, isControlPlane(m)); err != nil {
			s.note(key+" node "+m.GetName(), err)
			continue
		}
		if w.nodes[m.GetName()] {
			log.Printf("boot-simulator: %s: node %s Ready (providerID %s, kubelet %s)", key, m.GetName(), providerID, version)
		}
	}
	for key, w := range s.workloads {
		_, err := s.dyn.Resource(clusters).Namespace(w.facts.namespace).Get(ctx, w.facts.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			log.Printf("boot-simulator: %s: Cluster gone, stopping its control plane", key)
			w.stop()
			delete(s.workloads, key)
			continue
		}
		if err := s.deployAddons(ctx, w); err != nil {
			s.note(key+" addons", err)
		}
	}
	return nil
}

// register plays one machine's boot: for a control-plane node the etcd member
// exists already (single control plane: the etcd is named after it), then
// its mirror Pods, then the Node, so KCP never sees a Node without them.
func (w *workload) register(ctx context.Context, node, providerID, version string, controlPlane bool) error {
	if controlPlane {
		if node != w.firstNode {
			return fmt.Errorf("control-plane machine %s: only one control-plane machine per cluster is simulated (the etcd member is %s)", node, w.firstNode)
		}
		if err := writeMirrorPods(ctx, w.client, node, version); err != nil {
			return err
		}
	}
	settled, err := writeNode(ctx, w.client, node, providerID, version, controlPlane)
	if err != nil {
		return err
	}
	w.nodes[node] = settled
	return nil
}

// machineVersion is the Kubernetes version of the Machine that owns an
// OpenStackMachine: what kubeadm would install on that server.
func (s *simulator) machineVersion(ctx context.Context, m *unstructured.Unstructured) (string, error) {
	for _, ref := range m.GetOwnerReferences() {
		if ref.Kind != "Machine" {
			continue
		}
		machine, err := s.dyn.Resource(machinesResource).Namespace(m.GetNamespace()).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("reading Machine %s: %w", ref.Name, err)
		}
		if v, _, _ := unstructured.NestedString(machine.Object, "spec", "version"); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("machine %s has no spec.version", ref.Name)
	}
	return "", fmt.Errorf("OpenStackMachine %s has no owning Machine yet", m.GetName())
}

func isControlPlane(m *unstructured.Unstructured) bool {
	_, ok := m.GetLabels()[controlPlaneLabel]
	return ok
}

// clusterFacts reads the Cluster, its KubeadmControlPlane and the
// certificate Secrets KCP generated.
func (s *simulator) clusterFacts(ctx context.Context, namespace, name string) (clusterFacts, error) {
	f := clusterFacts{namespace: namespace, name: name, serviceCIDR: "10.96.0.0/12", podCIDR: "10.244.0.0/16"}
	cluster, err := s.dyn.Resource(clusters).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return f, fmt.Errorf("reading Cluster: %w", err)
	}
	f.endpointHost, _, _ = unstructured.NestedString(cluster.Object, "spec", "controlPlaneEndpoint", "host")
	port, _, _ := unstructured.NestedInt64(cluster.Object, "spec", "controlPlaneEndpoint", "port")
	f.endpointPort = int(port)
	if f.endpointHost == "" || f.endpointPort == 0 {
		return f, fmt.Errorf("Cluster spec.controlPlaneEndpoint is not set yet")
	}
	if cidrs, _, _ := unstructured.NestedStringSlice(cluster.Object, "spec", "clusterNetwork", "services", "cidrBlocks"); len(cidrs) > 0 {
		f.serviceCIDR = cidrs[0]
	}
	if cidrs, _, _ := unstructured.NestedStringSlice(cluster.Object, "spec", "clusterNetwork", "pods", "cidrBlocks"); len(cidrs) > 0 {
		f.podCIDR = cidrs[0]
	}
	cpName, _, _ := unstructured.NestedString(cluster.Object, "spec", "controlPlaneRef", "name")
	kcp, err := s.dyn.Resource(controlPlanes).Namespace(namespace).Get(ctx, cpName, metav1.GetOptions{})
	if err != nil {
		return f, fmt.Errorf("reading KubeadmControlPlane %q: %w", cpName, err)
	}
	f.kubernetesVersion, _, _ = unstructured.NestedString(kcp.Object, "spec", "version")

	read := func(purpose secret.Purpose) (crt, key []byte, err error) {
		n := secret.Name(name, purpose)
		sec, err := s.core.CoreV1().Secrets(namespace).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, n, err)
		}
		return sec.Data[secret.TLSCrtDataName], sec.Data[secret.TLSKeyDataName], nil
	}
	crt, key, err := read(secret.ClusterCA)
	if err != nil {
		return f, err
	}
	if f.ca, err = parseAuthority(secret.Name(name, secret.ClusterCA), crt, key); err != nil {
		return f, err
	}
	if crt, key, err = read(secret.EtcdCA); err != nil {
		return f, err
	}
	if f.etcdCA, err = parseAuthority(secret.Name(name, secret.EtcdCA), crt, key); err != nil {
		return f, err
	}
	if f.saPubPEM, f.saKeyPEM, err = read(secret.ServiceAccount); err != nil {
		return f, err
	}
	if f.frontProxyCA, _, err = read(secret.FrontProxyCA); err != nil {
		return f, err
	}
	return f, nil
}
