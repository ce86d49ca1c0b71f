// Pure formatting of what the chat shows: times, day separators, file sizes, badge counts.
// One function per label, used by the page-load path and the live path alike, so a message
// looks the same whichever way it arrived. Times are in the browser's locale and time zone.

const timeFormats = new Map();

function formatter(locale, options) {
  const key = `${locale ?? ""}|${JSON.stringify(options)}`;
  let format = timeFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, options);
    timeFormats.set(key, format);
  }
  return format;
}

/** A Date from an ISO string (or a Date); null when there is none or it is invalid. */
export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The time of a message: "1:45 PM" (en-US), "13:45" (en-GB)… */
export function formatTime(date, locale = undefined) {
  return formatter(locale, { hour: "numeric", minute: "2-digit" }).format(date);
}

/** The full date and time, for a tooltip. */
export function formatFull(date, locale = undefined) {
  return formatter(locale, { dateStyle: "full", timeStyle: "short" }).format(date);
}

/** The calendar day of a date in the browser's zone, as "YYYY-MM-DD": what a separator groups by. */
export function dayKey(date) {
  const month = String(date.getMonth() + 1).padStart(2, "0");
  const day = String(date.getDate()).padStart(2, "0");
  return `${date.getFullYear()}-${month}-${day}`;
}

/** A day separator's label: "Today", "Yesterday", "Monday 3 March", or with the year when it is not this one. */
export function dayLabel(date, now = new Date(), locale = undefined) {
  if (dayKey(date) === dayKey(now)) return "Today";
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
  const options = { weekday: "long", day: "numeric", month: "long" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return formatter(locale, options).format(date);
}

/** "512 bytes", "1.5 KB", "2.0 MB". */
export function sizeLabel(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A badge's text: the count, capped at "99+". */
export function badgeText(count) {
  return count > 99 ? "99+" : String(count);
}

/** A path on this site, or null: message data never links elsewhere except through body_html. */
export function safeLocalUrl(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : null;
}
