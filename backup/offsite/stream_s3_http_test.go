package offsite

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// TestUploadHTTPClientSpeaksHTTP1: the SDK's default client, which
// forces HTTP/2 on an endpoint offering it, is given HTTP/1.1 for the
// parts of an upload; its other settings (here the trust of the server's
// certificate, as AWS_CA_BUNDLE sets it) are kept. A client the caller
// built is left alone.
func TestUploadHTTPClientSpeaksHTTP1(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	trust := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	sdk := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.RootCAs = trust
	})
	proto := func(c interface {
		Do(*http.Request) (*http.Response, error)
	}) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodPut, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Proto")
	}
	if got := proto(sdk); got != "HTTP/2.0" {
		t.Fatalf("the SDK's own client spoke %s to an HTTP/2 server; this test expects it to force HTTP/2", got)
	}
	up, ok := uploadHTTPClient(sdk)
	if !ok {
		t.Fatal("the SDK's BuildableClient was not recognised")
	}
	if got := proto(up); got != "HTTP/1.1" {
		t.Fatalf("upload client spoke %s, want HTTP/1.1", got)
	}
	if got := proto(sdk); got != "HTTP/2.0" {
		t.Fatalf("the bucket's own client changed: now %s", got)
	}

	own := &http.Client{}
	if c, ok := uploadHTTPClient(own); ok || c != own {
		t.Fatal("a caller's own HTTP client was replaced")
	}
	if c, ok := uploadHTTPClient(nil); ok || c != nil {
		t.Fatal("a nil client was replaced")
	}
}
