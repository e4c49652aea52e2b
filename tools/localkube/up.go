package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// controllers are the kube-controller-manager controllers a workload's life needs; node lifecycle is left out (the
// simulated nodes never fail), and so are volumes, certificates and autoscaling.
var controllers = []string{
	"deployment-controller", "replicaset-controller", "statefulset-controller", "daemonset-controller",
	"job-controller", "cronjob-controller", "ttl-after-finished-controller", "namespace-controller",
	"garbage-collector-controller", "serviceaccount-controller", "serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller", "endpointslice-controller",
}

// layout names the files the caller (the emulator) writes into DIR before `up`, and those up writes itself.
type layout struct{ dir string }

func (l layout) path(name string) string { return filepath.Join(l.dir, name) }

func up(args []string) error {
	flags := flag.NewFlagSet("up", flag.ContinueOnError)
	dir := flags.String("dir", "", "state directory: ca.crt, apiserver.crt/.key, sa.key, admin.token, "+
		"audit-policy.yaml, *-webhook.kubeconfig (authn, authz, audit)")
	port := flags.Int("port", 0, "the API server's HTTPS port on 127.0.0.1")
	nodes := flags.Int("nodes", 1, "how many simulated nodes")
	nodePrefix := flags.String("node-prefix", "aks-nodepool1-00000", "node name prefix")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *port == 0 {
		return errors.New("--dir and --port are required")
	}
	files := layout{dir: *dir}
	token, err := os.ReadFile(files.path("admin.token"))
	if err != nil {
		return err
	}
	adminToken := strings.TrimSpace(string(token))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go stopWithParent(stop)

	etcd, etcdURL, err := startEtcd(files.path("etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()

	if err := os.WriteFile(files.path("tokens.csv"), []byte(adminToken+",localkube-admin,localkube-admin,\"system:masters\"\n"), 0o600); err != nil {
		return err
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", *port)
	if err := os.WriteFile(files.path("admin.kubeconfig"), []byte(adminKubeconfig(server, files.path("ca.crt"), adminToken)), 0o600); err != nil {
		return err
	}

	apiserverProcess, err := spawn(files.path("apiserver.log"), "apiserver", apiserverArgs(files, *port, etcdURL)...)
	if err != nil {
		return err
	}
	children := []*exec.Cmd{apiserverProcess}
	defer func() { stopAll(children) }()
	exited := make(chan error, 2)
	go func() {
		exited <- fmt.Errorf("kube-apiserver exited: %v (see %s)", apiserverProcess.Wait(), files.path("apiserver.log"))
	}()

	// the node simulator plays the kubelet: its pod status writes are recorded under the kubelet's field manager
	config := &rest.Config{Host: server, BearerToken: adminToken, TLSClientConfig: rest.TLSClientConfig{CAFile: files.path("ca.crt")},
		QPS: 50, Burst: 100, UserAgent: "kubelet"}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	if err := waitReady(ctx, client, exited); err != nil {
		return err
	}

	managerProcess, err := spawn(files.path("controller-manager.log"), "controller-manager", controllerManagerArgs(files)...)
	if err != nil {
		return err
	}
	children = append(children, managerProcess)
	go func() {
		exited <- fmt.Errorf("kube-controller-manager exited: %v (see %s)", managerProcess.Wait(), files.path("controller-manager.log"))
	}()

	simulated := make(chan error, 1)
	go func() { simulated <- runNodes(ctx, client, nodeNames(*nodePrefix, *nodes)) }()
	fmt.Println("localkube: ready at", server)

	select {
	case <-ctx.Done():
		return nil
	case err := <-exited:
		return err
	case err := <-simulated:
		return fmt.Errorf("node simulator: %w", err)
	}
}

// stopWithParent shuts down when the process that started localkube is gone (killed without stopping us first), so
// a crashed test run leaves no control plane behind.
func stopWithParent(stop context.CancelFunc) {
	parent := os.Getppid()
	for os.Getppid() == parent {
		time.Sleep(time.Second)
	}
	stop()
}

func nodeNames(prefix string, count int) []string {
	names := make([]string, count)
	for i := range names {
		names[i] = prefix + strconv.Itoa(i)
	}
	return names
}

func apiserverArgs(files layout, port int, etcdURL string) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + files.path("certs"),
		"--tls-cert-file=" + files.path("apiserver.crt"),
		"--tls-private-key-file=" + files.path("apiserver.key"),
		"--token-auth-file=" + files.path("tokens.csv"),
		// AKS-managed Entra ID: bearer tokens are Entra access tokens, checked by a TokenReview webhook (guard).
		"--authentication-token-webhook-config-file=" + files.path("authn-webhook.kubeconfig"),
		"--authentication-token-webhook-version=v1",
		"--authentication-token-webhook-cache-ttl=0s",
		// Azure RBAC for Kubernetes: Kubernetes RBAC first, then a SubjectAccessReview webhook that checks Azure
		// role assignments' data actions. No caching, so a grant or revocation is seen at once.
		"--authorization-mode=Node,RBAC,Webhook",
		"--authorization-webhook-config-file=" + files.path("authz-webhook.kubeconfig"),
		"--authorization-webhook-version=v1",
		"--authorization-webhook-cache-authorized-ttl=0s",
		"--authorization-webhook-cache-unauthorized-ttl=0s",
		// Every client request (not the controllers' or nodes') goes to the local cloud's request log, as the
		// emulated API's requests do; blocking, so a request is logged before its caller has the answer.
		"--audit-policy-file=" + files.path("audit-policy.yaml"),
		"--audit-webhook-config-file=" + files.path("audit-webhook.kubeconfig"),
		"--audit-webhook-mode=blocking",
		"--audit-webhook-version=audit.k8s.io/v1",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + files.path("sa.key"),
		"--service-account-signing-key-file=" + files.path("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/16",
		"--allow-privileged=true",
		"--profiling=false",
		"--endpoint-reconciler-type=none",
	}
}

func controllerManagerArgs(files layout) []string {
	return []string{
		"--kubeconfig=" + files.path("admin.kubeconfig"),
		"--leader-elect=false",
		"--secure-port=0",
		"--controllers=" + strings.Join(controllers, ","),
		"--service-account-private-key-file=" + files.path("sa.key"),
		"--root-ca-file=" + files.path("ca.crt"),
		"--use-service-account-credentials=false",
		"--concurrent-deployment-syncs=5",
		"--profiling=false",
	}
}

func adminKubeconfig(server, caFile, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: %q, certificate-authority: %q}
users:
- name: admin
  user: {token: %q}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
`, server, caFile, token)
}

// spawn re-executes this binary as one component, its output in a log file; the child dies with the supervisor.
func spawn(logPath, component string, args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	command := exec.Command(self, append([]string{component}, args...)...)
	// argv[0] names the component, as the real binaries do: it is the user agent, so the field manager in
	// managedFields (kube-controller-manager for the controllers' status writes), and what ps shows
	command.Args[0] = map[string]string{"apiserver": "kube-apiserver", "controller-manager": "kube-controller-manager"}[component]
	command.Stdout, command.Stderr = logFile, logFile
	command.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := command.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", component, err)
	}
	return command, nil
}

func stopAll(children []*exec.Cmd) {
	for i := len(children) - 1; i >= 0; i-- {
		_ = children[i].Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(5 * time.Second)
	for i := len(children) - 1; i >= 0; i-- {
		done := make(chan struct{})
		go func(c *exec.Cmd) { _, _ = c.Process.Wait(); close(done) }(children[i])
		select {
		case <-done:
		case <-deadline:
			_ = children[i].Process.Kill()
		}
	}
}

func waitReady(ctx context.Context, client kubernetes.Interface, exited <-chan error) error {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		select {
		case err := <-exited:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("kube-apiserver not ready after 3 minutes")
}

func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd(dir string) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	clientURL, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", clientPort))
	peerURL, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", peerPort))
	config := embed.NewConfig()
	config.Dir = dir
	config.ListenClientUrls, config.AdvertiseClientUrls = []url.URL{*clientURL}, []url.URL{*clientURL}
	config.ListenPeerUrls, config.AdvertisePeerUrls = []url.URL{*peerURL}, []url.URL{*peerURL}
	config.InitialCluster = config.InitialClusterFromName(config.Name)
	config.LogLevel = "error"
	config.UnsafeNoFsync = true // a throwaway test cluster: durability is not worth the disk syncs
	etcd, err := embed.StartEtcd(config)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-etcd.Server.ReadyNotify():
	case <-time.After(time.Minute):
		etcd.Close()
		return nil, "", errors.New("etcd not ready after a minute")
	}
	return etcd, clientURL.String(), nil
}
