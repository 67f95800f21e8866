// Lists several pages need, loaded once a while: stages and bands, assistants, campaigns.

import { api } from "../api.js";
import { cached } from "../router.js";

// The outcomes the post-call analysis gives (README: "After a call: the CRM").
export const OUTCOMES = ["interested", "not_interested", "callback", "converted", "no_answer", "voicemail", "wrong_number", "transferred"];

export const pipeline = () => cached("pipeline", () => api("/api/pipeline"));
export const assistants = () => cached("assistants", () => api("/api/assistants"));
export const campaigns = () => cached("campaigns", () => api("/api/campaigns"));

/** Who a call was with, for lists that only have the call: the other party's number ("Browser" for Talk). */
export function otherParty(call) {
  if (call.provider === "web") return "Browser (Talk)";
  return call.direction === "outbound" ? call.to : call.from;
}

/** Local midnight of a yyyy-mm-dd date, as ISO 8601 in UTC (`days` later if given). */
export function dayStart(date, days = 0) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}
