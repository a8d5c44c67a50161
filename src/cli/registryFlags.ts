import { resolve } from "node:path";
import type { RegistryClientOptions } from "../registry/client.js";
import { formatTrace } from "../registry/trace.js";
import type { CommandContext, Flags } from "./context.js";

/**
 * Connection flags of every command that talks to a registry, itself or through a plugin: push, pull, login,
 * inspect, lock and build (FROM pinning, SKILL oci://, --push), lint.
 */
export const REGISTRY_OPTIONS = {
  "plain-http": {
    type: "boolean",
    description: "talk HTTP, not HTTPS (automatic for localhost and 127.0.0.1)",
  },
  insecure: { type: "boolean", description: "HTTPS without verifying the registry's certificate" },
  "ca-file": {
    type: "string",
    value: "<pem>",
    description: "trust this CA certificate for the registry's TLS",
  },
} as const satisfies Flags;

export const REGISTRY_USAGE = "[--plain-http] [--insecure] [--ca-file <pem>]";

/**
 * Registry client options from the flags and the command's environment (credentials, proxies): `--plain-http`
 * forces HTTP; `--ca-file` or `--insecure` mean TLS, also for localhost/127.0.0.1 (which are otherwise reached over
 * plain HTTP); `--verbose`/`--debug` trace every HTTP exchange to stderr with secrets redacted.
 */
export function registryOptions(ctx: CommandContext): RegistryClientOptions {
  const options: RegistryClientOptions = { env: ctx.io.env };
  const caFile = ctx.values["ca-file"];
  if (ctx.values["plain-http"] === true) options.plainHttp = true;
  else if (ctx.values.insecure === true || typeof caFile === "string") options.plainHttp = false;
  if (ctx.values.insecure === true) options.insecure = true;
  if (typeof caFile === "string") options.caFile = resolve(ctx.io.cwd, caFile);
  if (ctx.debug || ctx.values.verbose === true) options.trace = (e) => ctx.err(formatTrace(e));
  return options;
}
