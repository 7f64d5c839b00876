/** What a terminal can be told, as types: the server refused the sale, or could not be reached in time. */

/** The gateway answered with an error it will give again (4xx other than 429): fix the sale, do not retry it. */
export class RejectedError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;
  readonly details: { path: string; message: string }[];
  constructor(
    status: number,
    body: { code?: string; message?: string; requestId?: string; details?: { path: string; message: string }[] },
  ) {
    super(body.message ?? `HTTP ${status}`);
    this.name = "RejectedError";
    this.status = status;
    this.code = body.code ?? "unknown";
    this.requestId = body.requestId;
    this.details = body.details ?? [];
  }
}

/** Every attempt failed for a reason that passes (network, 429, 503, 5xx): queue the sale and send it later. */
export class UnavailableError extends Error {
  readonly attempts: number;
  readonly lastStatus: number | null;
  constructor(attempts: number, lastStatus: number | null, cause: unknown) {
    super(
      `the gateway could not be reached after ${attempts} attempts${lastStatus ? ` (last: HTTP ${lastStatus})` : ""}`,
      {
        cause,
      },
    );
    this.name = "UnavailableError";
    this.attempts = attempts;
    this.lastStatus = lastStatus;
  }
}
