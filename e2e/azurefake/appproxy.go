package azurefake

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
)

// AppHostSuffix is the domain of the function apps' own hosts, <app>.azurewebsites.net.
const AppHostSuffix = ".azurewebsites.net"

// AppProxy is the internet between a command and the function apps' own hosts: an HTTPS proxy,
// as HTTPS_PROXY makes Go's default client use one (CONNECT host:443), that answers for
// <app>.azurewebsites.net with a certificate the stand-in's CA signs and serves Hosts (AppHost)
// behind it. A command then calls https://<app>.azurewebsites.net/... exactly as it would on
// Azure, verifying the certificate (SSL_CERT_FILE trusts the CA), with no address of the
// stand-in in its code or flags. Go never proxies a loopback address, so the ARM facade and
// the test's own servers stay reached directly. Any other host is refused.
type AppProxy struct {
	Hosts http.Handler
	CA    *CA
	// Blobs, when set, answers for <account>.blob.core.windows.net of the cloud's storage
	// accounts (BlobService); a name no account has does not resolve.
	Blobs *BlobService
	// Gateway, when set, answers for <service>.azure-api.net: API Management's gateway, as a
	// process in Azure reaches the API by its public gateway URL (the stack's apiUrl).
	Gateway http.Handler
}

// GatewayHostSuffix is the domain of API Management's gateways, <service>.azure-api.net.
const GatewayHostSuffix = ".azure-api.net"

func (p AppProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "the proxy only tunnels (CONNECT)", http.StatusMethodNotAllowed)
		return
	}
	name, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		name = r.Host
	}
	hosts := p.Hosts
	switch {
	case p.Blobs != nil && strings.HasSuffix(strings.ToLower(name), BlobHostSuffix):
		if !p.Blobs.Knows(name) {
			http.Error(w, "no such host: "+name, http.StatusBadGateway)
			return
		}
		hosts = p.Blobs
	case p.Gateway != nil && strings.HasSuffix(strings.ToLower(name), GatewayHostSuffix):
		hosts = p.Gateway
	case !strings.HasSuffix(name, AppHostSuffix):
		http.Error(w, "the proxy reaches only the function apps' own hosts (*"+AppHostSuffix+") and the storage accounts' blob endpoints, not "+name, http.StatusForbidden)
		return
	}
	cert, err := p.CA.CertificateFor(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot tunnel", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if _, err := buf.WriteString("HTTP/1.1 200 Connection established\r\n\r\n"); err != nil || buf.Flush() != nil {
		return
	}
	tlsConn := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	defer tlsConn.Close()
	in := bufio.NewReader(tlsConn)
	for {
		req, err := http.ReadRequest(in)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		hosts.ServeHTTP(rec, req)
		req.Body.Close()
		resp := rec.Result()
		// The recorder's answer has no length, which HTTP/1.1 would end by closing the
		// connection; the client keeps it open for the next request.
		resp.ContentLength = int64(rec.Body.Len())
		if err := resp.Write(tlsConn); err != nil {
			return
		}
	}
}
