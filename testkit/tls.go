package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority of a test's own, its files in a temporary
// directory: for TLS listeners that ask clients for certificates.
type CA struct {
	// File is the CA certificate (PEM), what a peer verifies against.
	File string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
	next int64
}

// NewCA makes a CA valid for an hour.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "eldersafe test CA"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{cert: cert, key: key, dir: tb.TempDir(), next: 1}
	ca.File = ca.write(tb, "ca.pem", "CERTIFICATE", der)
	return ca
}

// Pool is a pool holding the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// Server issues a server certificate for the DNS names and IP addresses
// given, and returns its certificate and key files (PEM).
func (ca *CA) Server(tb testing.TB, names ...string) (certFile, keyFile string) {
	tb.Helper()
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: names[0]}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return ca.issue(tb, tmpl)
}

// Client issues a client certificate with common name cn, and returns its
// certificate and key files (PEM).
func (ca *CA) Client(tb testing.TB, cn string) (certFile, keyFile string) {
	tb.Helper()
	return ca.issue(tb, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
}

// ClientCert is Client loaded, for a Go client's tls.Config.
func (ca *CA) ClientCert(tb testing.TB, cn string) tls.Certificate {
	tb.Helper()
	cert, err := tls.LoadX509KeyPair(ca.Client(tb, cn))
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func (ca *CA) issue(tb testing.TB, tmpl *x509.Certificate) (certFile, keyFile string) {
	tb.Helper()
	ca.next++
	tmpl.SerialNumber = big.NewInt(ca.next)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	key := newKey(tb)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	name := "cert-" + tmpl.SerialNumber.String() // a common name may hold a '/'
	return ca.write(tb, name+".pem", "CERTIFICATE", der), ca.write(tb, name+".key", "EC PRIVATE KEY", keyDER)
}

func (ca *CA) write(tb testing.TB, name, kind string, der []byte) string {
	tb.Helper()
	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}
