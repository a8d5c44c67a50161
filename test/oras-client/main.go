// Command oras-client is a minimal oras client built on oras-go v1 (Debian's golang-oras-oras-go-dev), used by the
// interoperability tests: it pulls an artifact into a directory with oras-go's file store, which writes each layer
// at its org.opencontainers.image.title and unpacks layers annotated io.deis.oras.content.unpack, exactly as
// `oras pull` does; and it pushes a directory the way `oras push <ref> <dir>` does (one tar+gzip layer titled
// with the given name, carrying the unpack annotations).
//
//	oras-client pull <host/repo:tag> <out-dir>
//	oras-client push-dir <host/repo:tag> <dir> <title>
//
// It talks plain HTTP (the tests' registry listens on 127.0.0.1) and prints the manifest digest on success.
package main

import (
	"context"
	"fmt"
	"os"

	"oras.land/oras-go/pkg/content"
	"oras.land/oras-go/pkg/oras"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "oras-client:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: oras-client pull <ref> <out> | push-dir <ref> <dir> <title>")
	}
	ctx := context.Background()
	registry, err := content.NewRegistry(content.RegistryOptions{PlainHTTP: true})
	if err != nil {
		return err
	}
	switch {
	case args[0] == "pull" && len(args) == 3:
		store := content.NewFile(args[2])
		defer store.Close()
		desc, err := oras.Copy(ctx, registry, args[1], store, "")
		if err != nil {
			return err
		}
		fmt.Println(desc.Digest)
		return nil
	case args[0] == "push-dir" && len(args) == 4:
		store := content.NewFile("")
		defer store.Close()
		store.Reproducible = true
		layer, err := store.Add(args[3], "", args[2])
		if err != nil {
			return err
		}
		manifest, manifestDesc, config, configDesc, err := content.GenerateManifestAndConfig(nil, nil, layer)
		if err != nil {
			return err
		}
		if err := store.Load(configDesc, config); err != nil {
			return err
		}
		if err := store.StoreManifest(args[1], manifestDesc, manifest); err != nil {
			return err
		}
		desc, err := oras.Copy(ctx, store, args[1], registry, "")
		if err != nil {
			return err
		}
		fmt.Println(desc.Digest)
		return nil
	}
	return fmt.Errorf("unknown or incomplete command %q", args)
}
