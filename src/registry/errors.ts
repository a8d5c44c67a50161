import type { Readable } from "node:stream";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import type { BuiltinCode } from "../diagnostics/codes.js";
import { redactUrl } from "./trace.js";
import type { HttpResponse } from "./transport.js";

const ERROR_BODY_LIMIT = 64 * 1024;

/** Reads at most `limit` bytes; more is an error built by `tooLarge` (the rest of the body is discarded). */
export async function readCapped(body: Readable, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        body.destroy();
        throw tooLarge();
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof Error && (err instanceof AgentrcError || size > limit)) throw err;
    const message = `connection lost while reading a reply: ${(err as Error)?.message ?? String(err)}`;
    throw new AgentrcError("REGISTRY_UNREACHABLE", message, { cause: err });
  }
  return Buffer.concat(chunks, size);
}

/** Discards a response body so that the connection can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  await res.body.dump({ limit: 1024 * 1024 }).catch(() => {});
}

interface RegistryErrorBody {
  errors?: { code?: unknown; message?: unknown; detail?: unknown }[];
}

/** `CODE: message` pairs from a distribution-spec error body, or the start of a non-JSON body. */
async function describeBody(res: HttpResponse): Promise<{ codes: string[]; text: string }> {
  let raw: Buffer;
  try {
    raw = await readCapped(res.body, ERROR_BODY_LIMIT, () => new Error("error body too large"));
  } catch {
    return { codes: [], text: "" };
  }
  const text = raw.toString("utf8");
  try {
    const parsed = JSON.parse(text) as RegistryErrorBody;
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      const codes = parsed.errors.map((e) => String(e.code ?? "UNKNOWN"));
      const parts = parsed.errors.map((e) => `${String(e.code ?? "UNKNOWN")}: ${String(e.message ?? "")}`);
      return { codes, text: parts.join("; ") };
    }
  } catch {
    // not JSON (e.g. Docker Hub's plain-text 429): keep the first line
  }
  return { codes: [], text: text.split("\n")[0]!.slice(0, 200).trim() };
}

function codeForStatus(res: HttpResponse, registryCodes: string[]): BuiltinCode {
  const status = res.status;
  if (registryCodes.includes("DIGEST_INVALID")) return "REGISTRY_DIGEST_MISMATCH";
  if (registryCodes.includes("SIZE_INVALID")) return "REGISTRY_SIZE_MISMATCH";
  if (registryCodes.includes("UNSUPPORTED")) return "REGISTRY_UNSUPPORTED";
  if (status === 401 && /insufficient_scope/.test(res.headers["www-authenticate"] ?? ""))
    return "REGISTRY_DENIED";
  if (registryCodes.includes("DENIED")) return "REGISTRY_DENIED";
  if (status === 401) return "REGISTRY_UNAUTHORIZED";
  if (status === 403) return "REGISTRY_DENIED";
  if (status === 404) return "REGISTRY_NOT_FOUND";
  if (status === 405) return "REGISTRY_UNSUPPORTED";
  if (status === 413) return "REGISTRY_MANIFEST_TOO_LARGE";
  if (status === 429) return "REGISTRY_RATE_LIMITED";
  if (status >= 500) return "REGISTRY_SERVER_ERROR";
  if (status >= 400) return "REGISTRY_REQUEST_REJECTED";
  return "REGISTRY_BAD_RESPONSE";
}

/** An AgentrcError for an unexpected reply: the code follows the status and the registry's error codes. */
export async function statusError(res: HttpResponse, what: string): Promise<AgentrcError> {
  const { codes, text } = await describeBody(res);
  const code = codeForStatus(res, codes);
  const detail = text ? `: ${text}` : "";
  return new AgentrcError(code, `${what}: registry answered ${res.status} (${redactUrl(res.url)})${detail}`);
}

export function badResponse(what: string, message: string): AgentrcError {
  return new AgentrcError("REGISTRY_BAD_RESPONSE", `${what}: ${message}`);
}
