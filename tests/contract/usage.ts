// A TypeScript partner's code against the types openapi-typescript generates from
// docs/openapi.json. tests/test_contract_tools.py generates them as ./openapi.d.ts next to a
// copy of this file and runs `tsc --strict --noEmit`: a change of the document that such code
// would notice (a field renamed, a type widened, a response gone) stops this compiling. The
// `@ts-expect-error` lines are the other half: mistakes the types must keep refusing.
import type { paths } from "./openapi";

// --------------------------------------------------------------------------- debit-balance

type Debit = paths["/api/v1/debit-balance"]["post"];
type DebitRequest = Debit["requestBody"]["content"]["application/json"];
type DebitResponses = Debit["responses"];
type DebitOk = DebitResponses[200]["content"]["application/json"];
type DebitRefused = DebitResponses[400]["content"]["application/json"];
type DebitFailure =
  | DebitRefused
  | DebitResponses[401]["content"]["application/json"]
  | DebitResponses[404]["content"]["application/json"]
  | DebitResponses[409]["content"]["application/json"]
  | DebitResponses[500]["content"]["application/json"];

export const debit: DebitRequest = {
  clientId: "CLIENT_001",
  amount: 100.5,
  description: null,
  reference: "TXN-20260201-ABCDEFGH",
};

// @ts-expect-error: the amount is a JSON number, never a string
export const amountAsText: DebitRequest = { clientId: "CLIENT_001", amount: "100.50" };

// @ts-expect-error: clientId is required
export const noClient: DebitRequest = { amount: 1 };

export function newBalance(body: DebitOk): number {
  const type: "debit" | "credit" = body.data.type;
  return type === "debit" ? body.data.balance : Number.NaN;
}

// The two 400s are told apart by their documented message.
export function explainRefusal(body: DebitRefused): string {
  if (body.message === "Insufficient balance") {
    return `balance ${body.data.balance.toFixed(2)} < ${body.data.amount.toFixed(2)}`;
  }
  return Object.entries(body.data.errors)
    .map(([field, messages]) => `${field}: ${messages.join(" ")}`)
    .join("; ");
}

export function isRetryable(body: DebitFailure): boolean {
  switch (body.message) {
    case "Invalid signature": {
      const nothing: null = body.data;
      return nothing === null && body.status === "error";
    }
    case "Failed to debit balance":
      return body.data.error.length > 0;
    default:
      return false;
  }
}

// --------------------------------------------------------------------------- get-transactions

type Transactions = paths["/api/v1/get-transactions"]["get"];
type TransactionsQuery = Transactions["parameters"]["query"];
type TransactionsOk = Transactions["responses"][200]["content"]["application/json"];
type TransactionsNotFound = Transactions["responses"][404]["content"]["application/json"];

export const query: TransactionsQuery = {
  clientId: "CLIENT_001",
  limit: 10,
  page: 2,
  type: "credit",
  sortBy: "amount",
  sortOrder: "asc",
  dateFrom: "2026-01-01",
  dateTo: "2026-01-31T23:59:59.999Z",
};

// @ts-expect-error: sortOrder is asc or desc
export const badOrder: TransactionsQuery = { clientId: "CLIENT_001", sortOrder: "up" };

// An item's amount is a two-decimal string ("100.50"), the balance a number.
export function lines(body: TransactionsOk): string[] {
  return body.data.data.map(
    (item) =>
      `${item.createdAt} ${item.type} ${item.amount} ${item.currency} ` +
      `${item.referenceId ?? "-"} ${item.description ?? ""}`,
  );
}

export function pagesLeft(body: TransactionsOk): number {
  const { totalPages, currentPage } = body.data;
  const sort: "asc" | "desc" = body.data.sort.sortOrder;
  return sort === "asc" || sort === "desc" ? Math.max(0, totalPages - currentPage) : 0;
}

export const notFound: TransactionsNotFound = {
  status: "failed",
  message: "User not found",
  data: null,
};
