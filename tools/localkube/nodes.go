package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/component-base/version"
)

// simulator plays scheduler and kubelet, as kwok does: it binds each pending pod to a node, reports it Running and
// Ready (Succeeded for a Job's pods), and finishes a deleting pod's graceful termination at once.
type simulator struct {
	client  kubernetes.Interface
	nodes   []string
	pods    listerscorev1.PodLister
	queue   workqueue.TypedRateLimitingInterface[string]
	nextPod atomic.Uint32
}

func runNodes(ctx context.Context, client kubernetes.Interface, nodes []string) error {
	for i, name := range nodes {
		if err := registerNode(ctx, client, name, i); err != nil {
			return fmt.Errorf("register node %s: %w", name, err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	informer := factory.Core().V1().Pods()
	s := &simulator{
		client: client, nodes: nodes, pods: informer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
	}
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			s.queue.Add(key)
		}
	}
	if _, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	go func() { <-ctx.Done(); s.queue.ShutDown() }()
	for i := 0; i < 4; i++ {
		go s.work(ctx)
	}
	<-ctx.Done()
	return nil
}

func (s *simulator) work(ctx context.Context) {
	for {
		key, shutdown := s.queue.Get()
		if shutdown {
			return
		}
		if err := s.sync(ctx, key); err != nil {
			s.queue.AddRateLimited(key)
		} else {
			s.queue.Forget(key)
		}
		s.queue.Done(key)
	}
}

func (s *simulator) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := s.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pods := s.client.CoreV1().Pods(namespace)
	switch {
	case pod.DeletionTimestamp != nil:
		if pod.Spec.NodeName == "" {
			return nil // the API server deletes an unscheduled pod itself
		}
		zero := int64(0)
		err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		return ignoreGone(err)
	case pod.Spec.NodeName == "":
		binding := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: s.nodeFor(pod)},
		}
		return ignoreGone(pods.Bind(ctx, binding, metav1.CreateOptions{}))
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return nil
	case pod.Status.Phase == corev1.PodRunning && !ownedByJob(pod):
		return nil
	}
	updated := pod.DeepCopy()
	s.run(updated)
	_, err = pods.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreGone(err)
}

// nodeFor honours a DaemonSet pod's pinned node (matchFields metadata.name) and spreads the others.
func (s *simulator) nodeFor(pod *corev1.Pod) string {
	if affinity := pod.Spec.Affinity; affinity != nil && affinity.NodeAffinity != nil {
		if required := affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; required != nil {
			for _, term := range required.NodeSelectorTerms {
				for _, field := range term.MatchFields {
					if field.Key == "metadata.name" && len(field.Values) > 0 {
						return field.Values[0]
					}
				}
			}
		}
	}
	hash := fnv.New32a()
	_, _ = hash.Write([]byte(pod.Namespace + "/" + pod.Name))
	return s.nodes[int(hash.Sum32())%len(s.nodes)]
}

// run writes the status a kubelet reports once every container started (a Job's pod has already finished).
func (s *simulator) run(pod *corev1.Pod) {
	now := metav1.Now()
	finished := ownedByJob(pod) && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways
	ready := corev1.ConditionTrue
	pod.Status.Phase = corev1.PodRunning
	if finished {
		pod.Status.Phase, ready = corev1.PodSucceeded, corev1.ConditionFalse
	}
	if pod.Status.StartTime == nil {
		pod.Status.StartTime = &now
	}
	index := s.nextPod.Add(1)
	if pod.Status.PodIP == "" {
		pod.Status.PodIP = fmt.Sprintf("10.244.%d.%d", (index/250)%250, index%250+2)
		pod.Status.PodIPs = []corev1.PodIP{{IP: pod.Status.PodIP}}
	}
	pod.Status.HostIP = "10.224.0.4"
	pod.Status.HostIPs = []corev1.HostIP{{IP: pod.Status.HostIP}}
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: ready, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: ready, LastTransitionTime: now},
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	pod.Status.InitContainerStatuses = nil
	for _, container := range pod.Spec.InitContainers {
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, containerStatus(container, pod.UID, true, now))
	}
	pod.Status.ContainerStatuses = nil
	for _, container := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, containerStatus(container, pod.UID, finished, now))
	}
}

func containerStatus(container corev1.Container, uid types.UID, finished bool, now metav1.Time) corev1.ContainerStatus {
	started := !finished
	status := corev1.ContainerStatus{
		Name: container.Name, Image: container.Image, ImageID: "docker.io/library/" + container.Image,
		ContainerID: "containerd://" + containerID(uid, container.Name),
		Ready:       !finished, Started: &started,
	}
	if finished {
		status.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}
	} else {
		status.State.Running = &corev1.ContainerStateRunning{StartedAt: now}
	}
	return status
}

func containerID(uid types.UID, name string) string {
	hash := fnv.New64a()
	_, _ = hash.Write([]byte(string(uid) + "/" + name))
	return fmt.Sprintf("%016x", hash.Sum64())
}

func ownedByJob(pod *corev1.Pod) bool {
	for _, owner := range pod.OwnerReferences {
		if owner.Kind == "Job" && owner.Controller != nil && *owner.Controller {
			return true
		}
	}
	return false
}

func ignoreGone(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func registerNode(ctx context.Context, client kubernetes.Interface, name string, index int) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("128Gi"),
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"kubernetes.azure.com/agentpool": "nodepool1", "node.kubernetes.io/instance-type": "Standard_D4s_v5",
	}}}
	created, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	now := metav1.NewTime(time.Now())
	created.Status = corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity, Phase: corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "simulated by localkube", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", LastHeartbeatTime: now, LastTransitionTime: now},
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.224.0.%d", 4+index)}, {Type: corev1.NodeHostName, Address: name},
		},
		NodeInfo: corev1.NodeSystemInfo{
			KubeletVersion: version.Get().GitVersion, OperatingSystem: "linux", Architecture: "amd64",
			ContainerRuntimeVersion: "containerd://1.7.27", OSImage: "Ubuntu 22.04.5 LTS (simulated)",
		},
	}
	_, err = client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}
