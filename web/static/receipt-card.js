// The phone's receipt card for one poll: while the poll is open, the latest
// receipt and what was cast; once it closes, the phone reads the public
// record itself and says whether the ballot is there as cast, or loudly that
// it is not. The verdict is kept with the receipt, so it is read only once.

import { t } from "./i18n.js";
import "./i18n-record.js";
import { h, replace } from "./ui.js";
import { keptReceipt, ballotWords, parseRecord, findReceipt, sameAsCast } from "./receipts.js";

const KEY = "madang.receipts";
/** A record just read serves every card of the forum for this long. */
const FRESH_MS = 3000;
/** The close is in the log before the phone hears of it; a short retry covers a record read at that instant. */
const RETRIES = 3;
const RETRY_MS = 2000;

const records = new Map();

async function readRecord(forum) {
  const cached = records.get(forum);
  if (cached && Date.now() - cached.at < FRESH_MS) return cached.lines;
  const res = await fetch(`/api/forums/${encodeURIComponent(forum)}/record`, { cache: "no-cache" });
  if (!res.ok) throw new Error(`record: HTTP ${res.status}`);
  const lines = parseRecord(await res.text());
  records.set(forum, { at: Date.now(), lines });
  return lines;
}

function saveVerdict(forum, poll, receipt, verdict) {
  try {
    const all = JSON.parse(localStorage.getItem(KEY) || "{}");
    const kept = all[`${forum}/${poll}`];
    if (kept && kept.receipt === receipt) {
      kept.verdict = verdict;
      localStorage.setItem(KEY, JSON.stringify(all));
    }
  } catch {
    // Not kept: the next visit checks again.
  }
}

/** Checks under way, by forum/poll: the cards waiting for each (a re-render makes a new card). */
const checking = new Map();

/** Check a closed poll's receipt against the record; `done(verdict)` fills each card waiting. */
async function check(forum, poll, kept, done) {
  const key = `${forum}/${poll.id}`;
  if (checking.has(key)) {
    checking.get(key).push(done);
    return;
  }
  checking.set(key, [done]);
  let verdict = { kind: "failed" };
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    try {
      const lines = await readRecord(forum);
      const closed = lines.some((l) => l.type === "poll_ballots" && l.poll === poll.id);
      const found = findReceipt(lines, kept.receipt);
      if (found && found.poll === poll.id) {
        verdict = sameAsCast(kept, found.entry) ? { kind: "counted" } : { kind: "differs", entry: found.entry };
        break;
      }
      if (closed) {
        verdict = { kind: "missing" };
        break;
      }
    } catch {
      verdict = { kind: "failed" };
    }
    records.delete(forum);
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
  const waiting = checking.get(key);
  checking.delete(key);
  if (verdict.kind !== "failed") saveVerdict(forum, poll.id, kept.receipt, verdict);
  for (const fill of waiting) fill(verdict);
}

/**
 * The card for `poll` (a client-state poll: id, status, options) of `forum`,
 * or null when this phone cast no ballot in it.
 */
export function receiptCard(forum, poll) {
  const kept = keptReceipt(forum, poll.id);
  if (!kept) return null;
  const labelOf = (id) => poll.options.find((o) => o.id === id)?.label ?? `#${id}`;
  const cast = ballotWords(kept, labelOf);
  const el = h("div.receipt-card", { id: `receipt-${poll.id}`, "data-receipt": kept.receipt });
  const recordLink = () => h("a", { href: `/forums/${encodeURIComponent(forum)}/record` }, t("receipt.record_link"));
  const fill = (verdict) => {
    el.dataset.verdict = verdict?.kind || (poll.status === "closed" ? "checking" : "kept");
    const code = h("code.receipt-code", kept.receipt);
    if (poll.status !== "closed") {
      replace(el, h("p.receipt-title", t("receipt.title"), " ", code), h("p", t("receipt.what", { ballot: cast })), kept.replaced ? h("p.receipt-replaced", t("receipt.replaced")) : null, h("p.muted", t("receipt.keep")));
      return;
    }
    if (!verdict) {
      replace(el, h("p", { role: "status" }, t("receipt.checking")));
      return;
    }
    if (verdict.kind === "counted") {
      replace(el, h("p.receipt-ok", { role: "status" }, h("span", { "aria-hidden": "true" }, "✓ "), t("receipt.counted", { receipt: kept.receipt, ballot: cast })), h("p", recordLink()));
    } else if (verdict.kind === "missing" || verdict.kind === "differs") {
      const text = verdict.kind === "missing" ? t("receipt.missing", { receipt: kept.receipt }) : t("receipt.differs", { receipt: kept.receipt, ballot: ballotWords(verdict.entry, labelOf) });
      replace(el, h("p.receipt-bad", { role: "alert" }, h("span", { "aria-hidden": "true" }, "⚠ "), text), h("p", t("receipt.what", { ballot: cast })), h("p", recordLink()));
    } else {
      replace(el, h("p", { role: "status" }, t("receipt.check_failed"), " ", recordLink()));
    }
  };
  fill(kept.verdict);
  if (poll.status === "closed" && !kept.verdict) check(forum, poll, kept, fill);
  return el;
}
