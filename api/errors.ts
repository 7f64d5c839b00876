/**
 * The one exception family of the API: a status, a stable snake_case code and a
 * public message. Anything else that escapes a handler becomes a 500 whose
 * details stay in the logs. Domain refusals become ApiErrors here, once.
 */
import { type FieldProblem, ReceiptRefused } from "../core/receipt.ts";

export type ErrorDetail = FieldProblem;

export type ErrorBody = {
  /** `requestId`: the request's id (also in the `x-request-id` header), added by the Worker. */
  error: { code: string; message: string; details?: ErrorDetail[]; requestId?: string };
};

export type ApiErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 426 | 429 | 500 | 503;

export class ApiError extends Error {
  readonly status: ApiErrorStatus;
  readonly code: string;
  readonly details: ErrorDetail[] | undefined;
  /** Seconds, for 429 and 503. */
  readonly retryAfter: number | undefined;

  constructor(
    status: ApiErrorStatus,
    code: string,
    message: string,
    extra: { details?: ErrorDetail[]; retryAfter?: number } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = extra.details;
    this.retryAfter = extra.retryAfter;
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}

export function errorBody(code: string, message: string, details?: ErrorDetail[]): ErrorBody {
  return details?.length ? { error: { code, message, details } } : { error: { code, message } };
}

export const invalidCode = () =>
  new ApiError(400, "invalid_code", "This is not a valid receipt code. Check it for typos.");
export const notFound = (what: string) => new ApiError(404, "not_found", `${what} not found.`);
export const unauthorized = (message = "Missing or invalid credentials.") => new ApiError(401, "unauthorized", message);
export const forbidden = () => new ApiError(403, "forbidden", "These credentials belong to another tenant.");
export const unavailable = (message: string, retryAfter = 5) =>
  new ApiError(503, "unavailable", message, { retryAfter });

export function validationFailed(details: ErrorDetail[], message = "The request body is not valid.") {
  return new ApiError(400, "validation_failed", message, { details });
}

/** The ApiError a client hears for `e`, or null when `e` is not a client's mistake (a 500 then). */
export function apiErrorOf(e: unknown): ApiError | null {
  if (e instanceof ApiError) return e;
  if (e instanceof ReceiptRefused) {
    return e.reason === "card_data"
      ? new ApiError(400, "card_data_forbidden", e.message, { details: e.problems })
      : validationFailed(e.problems, e.message);
  }
  return null;
}
