import { login, logout } from "../../registry/login.js";
import { parseRegistryHost } from "../../registry/reference.js";
import type { Command, CommandContext } from "../context.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";

const MAX_PASSWORD = 64 * 1024;

export const loginCommand: Command = {
  name: "login",
  summary: "Check credentials against a registry and store them in agentrc's auth file (mode 0600).",
  usage: `agentrc login <host[:port]> [-u <user>] [--password-stdin] ${REGISTRY_USAGE} [--json]`,
  options: {
    username: {
      type: "string",
      short: "u",
      value: "<user>",
      description: "user name (prompted on a terminal)",
    },
    "password-stdin": { type: "boolean", description: "read the password from stdin" },
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [host, ...extra] = ctx.positionals;
    if (!host || extra.length > 0) {
      return ctx.usage("expected one registry host (host[:port])");
    }
    const interactive = (ctx.io.stdin as { isTTY?: boolean }).isTTY === true;
    let username = typeof ctx.values.username === "string" ? ctx.values.username : undefined;
    if (username === undefined && interactive && ctx.values["password-stdin"] !== true) {
      username = (await prompt(ctx, "Username: ", false)).trim();
    }
    if (!username) {
      return ctx.usage("give the user name with -u <user>");
    }
    let password: string;
    if (ctx.values["password-stdin"] === true) {
      password = (await readAll(ctx.io.stdin)).replace(/\r?\n$/, "");
    } else if (interactive) {
      password = await prompt(ctx, "Password: ", true);
    } else {
      return ctx.usage("stdin is not a terminal; pass the password with --password-stdin");
    }
    if (password === "") {
      return ctx.usage("empty password");
    }
    const { registry, path } = await login(host, username, password, registryOptions(ctx));
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, registry, username, path }, null, 2));
    } else if (!ctx.quiet) {
      ctx.err(`Login succeeded: credentials for ${registry} stored in ${path}`);
    }
    return 0;
  },
};

export const logoutCommand: Command = {
  name: "logout",
  summary: "Remove a registry's credentials from agentrc's auth file.",
  usage: "agentrc logout <host[:port]> [--json]",
  options: {},
  async run(ctx) {
    const [host, ...extra] = ctx.positionals;
    if (!host || extra.length > 0) {
      return ctx.usage("expected one registry host (host[:port])");
    }
    const registry = parseRegistryHost(host);
    const removed = await logout(registry, { env: ctx.io.env });
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, registry, removed }, null, 2));
    } else if (!ctx.quiet) {
      ctx.err(removed ? `Removed credentials for ${registry}` : `No stored credentials for ${registry}`);
    }
    return 0;
  },
};

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    if (text.length > MAX_PASSWORD) throw new Error("the password on stdin is longer than 64 KiB");
  }
  return text;
}

/** Reads one line from the terminal; with `hidden`, without echoing it. */
function prompt(ctx: CommandContext, question: string, hidden: boolean): Promise<string> {
  const stdin = ctx.io.stdin as NodeJS.ReadStream;
  ctx.io.stderr.write(question);
  return new Promise((resolve, reject) => {
    let line = "";
    const raw = hidden && typeof stdin.setRawMode === "function";
    if (raw) stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    const done = (err?: Error) => {
      stdin.off("data", onData);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      if (hidden) ctx.io.stderr.write("\n");
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new Error("interrupted"));
        if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}
