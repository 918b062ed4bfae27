package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/cluster-api/util/certs"
)

// authority is one of the CAs Cluster API generated for a workload cluster
// (the <cluster>-ca or <cluster>-etcd Secret): the lab signs with it what
// kubeadm would sign on the machine.
type authority struct {
	cert    *x509.Certificate
	certPEM []byte
	keyPEM  []byte // for kube-controller-manager's CSR signer, as kubeadm gives it
	key     crypto.Signer
}

func parseAuthority(name string, certPEM, keyPEM []byte) (*authority, error) {
	cert, err := certs.DecodeCertPEM(certPEM)
	if err != nil || cert == nil {
		return nil, fmt.Errorf("secret %s: tls.crt is not a PEM certificate (%v)", name, err)
	}
	key, err := certs.DecodePrivateKeyPEM(keyPEM)
	if err != nil || key == nil {
		return nil, fmt.Errorf("secret %s: tls.key is not a PEM private key (%v)", name, err)
	}
	return &authority{cert: cert, certPEM: certPEM, keyPEM: keyPEM, key: key}, nil
}

// leaf describes a certificate to sign.
type leaf struct {
	commonName   string
	organization []string
	server       bool
	client       bool
	ips          []net.IP
	dnsNames     []string
}

// sign writes <dir>/<base>.crt and .key: a fresh P-256 key and a certificate
// for it signed by the authority, valid for a year.
func (a *authority) sign(dir, base string, l leaf) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	var usages []x509.ExtKeyUsage
	if l.server {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if l.client {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: l.commonName, Organization: l.organization},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usages,
		IPAddresses:  l.ips,
		DNSNames:     l.dnsNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return fmt.Errorf("signing %s: %w", base, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, base+".crt"), "CERTIFICATE", der); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, base+".key"), "PRIVATE KEY", keyDER)
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}
