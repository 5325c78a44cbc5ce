package clustertest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Small helpers of the simulation.

// parallel runs f(0..n-1) concurrently (at most 16 at a time) and joins the
// errors.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = f(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pollUntil polls cond every interval until it is true, it fails or ctx
// ends; what names the wait in the error.
func pollUntil(ctx context.Context, interval time.Duration, cond wait.ConditionWithContextFunc, what string) error {
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	if err := wait.PollUntilContextCancel(ctx, interval, true, cond); err != nil {
		return fmt.Errorf("clustertest: waiting for %s: %w", what, err)
	}
	return nil
}

var metavGet = metav1.GetOptions{}

// podEtcdReady reports whether pod is Running with a running, ready etcd
// container.
func podEtcdReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == "etcd" {
			return cs.Ready && cs.State.Running != nil
		}
	}
	return false
}

const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// randomName returns n random characters from the alphabet Kubernetes uses
// for generated names.
func randomName(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = nameAlphabet[randInt(len(nameAlphabet))]
	}
	return string(b)
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0
	}
	return int(v.Int64())
}

func randomHex16() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%016x", b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// minorOf returns "4.5" for "4.5.2".
func minorOf(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}
