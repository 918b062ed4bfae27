package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// writeKubeadmConfig creates kube-system/kubeadm-config as `kubeadm init`
// does. KCP only checks that it exists (controlPlaneInitialized); the
// ClusterConfiguration is still a valid one, for rollouts that parse it.
func writeKubeadmConfig(ctx context.Context, c kubernetes.Interface, f clusterFacts) error {
	clusterConfiguration := fmt.Sprintf(`apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: %s
kubernetesVersion: %s
controlPlaneEndpoint: %s
certificatesDir: /etc/kubernetes/pki
imageRepository: registry.k8s.io
etcd:
  local:
    dataDir: /var/lib/etcd
networking:
  dnsDomain: cluster.local
  serviceSubnet: %s
  podSubnet: %s
`, f.name, f.kubernetesVersion, net.JoinHostPort(f.endpointHost, strconv.Itoa(f.endpointPort)), f.serviceCIDR, f.podCIDR)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeadm-config", Namespace: metav1.NamespaceSystem},
		Data:       map[string]string{"ClusterConfiguration": clusterConfiguration},
	}
	_, err := c.CoreV1().ConfigMaps(metav1.NamespaceSystem).Create(ctx, cm, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating kube-system/kubeadm-config: %w", err)
	}
	return nil
}

// controlPlaneComponents are the static Pods kubeadm writes on a control-plane
// node; KCP's workload cache only sees kube-system Pods with these component
// labels and tier=control-plane.
var controlPlaneComponents = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// writeMirrorPods creates the mirror Pods the kubelet would create for the
// static Pods of a control-plane node. kwok marks them Running and Ready.
func writeMirrorPods(ctx context.Context, c kubernetes.Interface, node, kubernetesVersion string) error {
	for _, component := range controlPlaneComponents {
		image := "registry.k8s.io/" + component + ":" + kubernetesVersion
		if component == "etcd" {
			image = "registry.k8s.io/etcd:3.6.4-0"
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name:      component + "-" + node,
				Namespace: metav1.NamespaceSystem,
				Labels:    map[string]string{"component": component, "tier": "control-plane"},
				Annotations: map[string]string{
					"kubernetes.io/config.mirror": "capi-lab-boot-simulator",
					"kubernetes.io/config.source": "file",
				},
			},
			Spec: corev1.PodSpec{
				NodeName:          node,
				HostNetwork:       true,
				PriorityClassName: "system-node-critical",
				Containers:        []corev1.Container{{Name: component, Image: image}},
			},
		}
		_, err := c.CoreV1().Pods(metav1.NamespaceSystem).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating pod kube-system/%s: %w", pod.Name, err)
		}
	}
	return nil
}

// writeNode registers the Node a kubelet would register, with the provider ID
// CAPO set on the OpenStackMachine (the Machine controller matches it
// exactly) and the taints kubeadm's nodeRegistration gives (CABPK adds the
// uninitialized taint, which the Machine controller removes). It reports
// settled once kwok has made the Node Ready and the Node reports the
// Machine's kubelet version; called again until then.
func writeNode(ctx context.Context, c kubernetes.Interface, name, providerID, kubeletVersion string, controlPlane bool) (settled bool, err error) {
	labels := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
	taints := []corev1.Taint{{Key: "node.cluster.x-k8s.io/uninitialized", Effect: corev1.TaintEffectNoSchedule}}
	if controlPlane {
		labels["node-role.kubernetes.io/control-plane"] = ""
		labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		taints = append(taints, corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule})
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      labels,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Spec: corev1.NodeSpec{ProviderID: providerID, Taints: taints},
	}
	current, err := c.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		current, err = c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return false, fmt.Errorf("creating node %s: %w", name, err)
	}
	// What the kubelet reports about itself. Cluster API compares
	// kubeletVersion with the Machine's version (UpToDate): kwok's own value
	// ("kwok-<version>") would make KCP and the MachineDeployment roll the
	// machines out forever. kwok's stages keep a value already set, but its
	// first status write can race this patch: hence the re-check.
	if current.Status.NodeInfo.KubeletVersion != kubeletVersion {
		status, err := json.Marshal(map[string]any{"status": map[string]any{"nodeInfo": map[string]string{
			"kubeletVersion": kubeletVersion, "kubeProxyVersion": kubeletVersion,
			"operatingSystem": "linux", "architecture": "amd64", "osImage": "capi-mgmt lab boot simulator",
		}}})
		if err != nil {
			return false, err
		}
		if _, err := c.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, status, metav1.PatchOptions{}, "status"); err != nil {
			return false, fmt.Errorf("setting node %s status.nodeInfo: %w", name, err)
		}
		return false, nil
	}
	for _, cond := range current.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			return true, nil
		}
	}
	return false, nil
}
