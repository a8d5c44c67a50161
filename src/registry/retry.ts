import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  retries: number;
  /** Backoff base and cap: attempt n waits a random time in [0, min(max, base * 2^n)] ("full jitter"). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error is reported instead (default 60 s). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/** 408, 429 and the 5xx that mean "try again" (not 501 Not Implemented or 505). */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504
  );
}

/** `Retry-After` as milliseconds to wait: delta-seconds or an HTTP date. Undefined when absent or malformed. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt));
}

/** Waits before retry number `attempt` (0-based): Retry-After when the server gave one, else jittered backoff. */
export function waitBeforeRetry(attempt: number, policy: RetryPolicy, retryAfterMs?: number): Promise<void> {
  const delay = retryAfterMs ?? backoffDelay(attempt, policy);
  return sleep(delay);
}
