// How values read on the page: dates in the viewer's zone, durations, percentages, labels.

const dayTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** "Dec 2, 14:05" (this year) or a full date. */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.getFullYear() === new Date().getFullYear() ? dayTime.format(date) : full.format(date);
}

/** "Dec 2, 2026, 14:05". */
export function fullDate(iso) {
  return iso ? full.format(new Date(iso)) : "—";
}

/** "14:05:09". */
export function clock(iso) {
  return iso ? timeOnly.format(new Date(iso)) : "";
}

/** "3m 07s", "42s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const total = Math.round(seconds);
  const minutes = Math.floor(total / 60);
  const rest = String(total % 60).padStart(2, "0");
  return minutes ? `${minutes}m ${rest}s` : `${total}s`;
}

/** "62%" of a 0..1 rate. */
export function percent(rate, digits = 0) {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(digits)}%`;
}

/** "1,234". */
export function count(value) {
  return value === null || value === undefined ? "—" : Number(value).toLocaleString();
}

/** "840 ms", "1.52 s". */
export function ms(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

/** "not_interested" → "Not interested". */
export function label(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value).replace(/[_-]+/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "+0.62" for a sentiment score. */
export function signed(value, digits = 2) {
  if (value === null || value === undefined) return "—";
  return (value > 0 ? "+" : "") + Number(value).toFixed(digits);
}

/** A lead's name, or its number. */
export function who(lead) {
  return (lead && (lead.name || lead.phone)) || "Unknown";
}
