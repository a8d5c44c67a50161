// Command cosign-key writes and reads cosign's encrypted private-key format with Go's golang.org/x/crypto (Debian's
// golang-golang-x-crypto-dev), the scrypt and NaCl secretbox packages that cosign's key code uses through
// go-securesystemslib's `encrypted` package. cosign itself is not packaged for Debian 12, so the interoperability
// tests use this second, independent implementation of the format:
//
//	PEM "ENCRYPTED SIGSTORE PRIVATE KEY" around JSON
//	{"kdf":{"name":"scrypt","params":{"N":..,"r":8,"p":1},"salt":<b64>},
//	 "cipher":{"name":"nacl/secretbox","nonce":<b64>},"ciphertext":<b64>}
//	where ciphertext = secretbox.Seal(PKCS#8 DER, nonce, scrypt(passphrase, salt, N, 8, 1, 32)).
//
//	cosign-key generate <prefix> <passphrase> [N]   writes <prefix>.key and <prefix>.pub (SPKI PEM)
//	cosign-key public <key-file> <passphrase>       decrypts a key and prints its public key (SPKI PEM)
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

const pemType = "ENCRYPTED SIGSTORE PRIVATE KEY"

type sealed struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "cosign-key:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) >= 3 && args[0] == "generate":
		n := 65536
		if len(args) == 4 {
			var err error
			if n, err = strconv.Atoi(args[3]); err != nil {
				return err
			}
		}
		return generate(args[1], []byte(args[2]), n)
	case len(args) == 3 && args[0] == "public":
		return public(args[1], []byte(args[2]))
	}
	return errors.New("usage: cosign-key generate <prefix> <passphrase> [N] | public <key-file> <passphrase>")
}

func generate(prefix string, passphrase []byte, n int) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	var s sealed
	s.KDF.Name, s.KDF.Params.N, s.KDF.Params.R, s.KDF.Params.P = "scrypt", n, 8, 1
	s.KDF.Salt = make([]byte, 32)
	s.Cipher.Name = "nacl/secretbox"
	s.Cipher.Nonce = make([]byte, 24)
	if _, err := rand.Read(s.KDF.Salt); err != nil {
		return err
	}
	if _, err := rand.Read(s.Cipher.Nonce); err != nil {
		return err
	}
	k, nonce, err := boxKey(&s, passphrase)
	if err != nil {
		return err
	}
	s.Ciphertext = secretbox.Seal(nil, der, nonce, k)
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".key", pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: body}), 0o600); err != nil {
		return err
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return err
	}
	return os.WriteFile(prefix+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), 0o644)
}

func public(path string, passphrase []byte) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != pemType {
		return fmt.Errorf("%s: no %s block", path, pemType)
	}
	var s sealed
	if err := json.Unmarshal(block.Bytes, &s); err != nil {
		return err
	}
	if s.KDF.Name != "scrypt" || s.Cipher.Name != "nacl/secretbox" || len(s.Cipher.Nonce) != 24 {
		return fmt.Errorf("%s: kdf %q, cipher %q: not cosign's format", path, s.KDF.Name, s.Cipher.Name)
	}
	k, nonce, err := boxKey(&s, passphrase)
	if err != nil {
		return err
	}
	der, ok := secretbox.Open(nil, s.Ciphertext, nonce, k)
	if !ok {
		return errors.New("decryption failed")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return err
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return errors.New("not an ECDSA P-256 key")
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))
	return err
}

// boxKey derives the secretbox key from the passphrase with the document's scrypt parameters, and returns it with
// the document's nonce, both as the fixed-size arrays secretbox takes.
func boxKey(s *sealed, passphrase []byte) (*[32]byte, *[24]byte, error) {
	key, err := scrypt.Key(passphrase, s.KDF.Salt, s.KDF.Params.N, s.KDF.Params.R, s.KDF.Params.P, 32)
	if err != nil {
		return nil, nil, err
	}
	var k [32]byte
	var nonce [24]byte
	copy(k[:], key)
	copy(nonce[:], s.Cipher.Nonce)
	return &k, &nonce, nil
}
