package main

import (
	"context"
	"fmt"
	"log"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The addon provider (azimuth-cloud/cluster-api-addon-provider) is a Python
// program installed from its git repository, not served by a registry here,
// so the lab cannot run it. Its part is played at the level the cluster
// layer reads: once a cluster's control plane is up, each HelmRelease and
// Manifests of that cluster reports phase Deployed, as the provider writes
// it after installing into the workload cluster. Nothing is installed.
var addonResources = []schema.GroupVersionResource{
	{Group: "addons.stackhpc.com", Version: "v1alpha1", Resource: "helmreleases"},
	{Group: "addons.stackhpc.com", Version: "v1alpha1", Resource: "manifests"},
}

func (s *simulator) deployAddons(ctx context.Context, w *workload) error {
	for _, r := range addonResources {
		list, err := s.dyn.Resource(r).Namespace(w.facts.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue // the addon provider's CRDs are not installed
		}
		for i := range list.Items {
			a := &list.Items[i]
			cluster, _, _ := unstructured.NestedString(a.Object, "spec", "clusterName")
			phase, _, _ := unstructured.NestedString(a.Object, "status", "phase")
			if cluster != w.facts.name || phase == "Deployed" || a.GetDeletionTimestamp() != nil {
				continue
			}
			if err := unstructured.SetNestedField(a.Object, "Deployed", "status", "phase"); err != nil {
				return err
			}
			if _, err := s.dyn.Resource(r).Namespace(a.GetNamespace()).UpdateStatus(ctx, a, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("%s %s: %w", a.GetKind(), a.GetName(), err)
			}
			log.Printf("boot-simulator: %s/%s: %s %s Deployed (addon provider played)", w.facts.namespace, w.facts.name, a.GetKind(), a.GetName())
		}
	}
	return nil
}
