/** The client's types come from the gateway's own schemas (core/), so they cannot drift from the API. */
import type { z } from "zod";
import type { IssuedReceipt } from "../../api/responses.ts";
import type { receiptInputSchema } from "../../core/receipt.ts";

/** A sale as `POST /v1/receipts` takes it. */
export type SaleInput = z.input<typeof receiptInputSchema>;
export type { IssuedReceipt };
