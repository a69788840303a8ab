// Ballot receipts (RECORD.md §6): what a phone keeps of each ballot it cast,
// how a receipt typed by hand is read, a ballot in words, and finding a
// receipt in the public record. Shared by the phone and the record page.

import { t, formatNumber } from "./i18n.js";
import "./i18n-record.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A receipt as typed: case, spaces and dashes do not matter, and the letters
 * Crockford base32 reads as digits (O as 0, I and L as 1) are read so.
 * `XXXX-XXXX-XXXX`, or null when it is not 12 symbols of the alphabet.
 */
export function normalizeReceipt(text) {
  const symbols = String(text || "")
    .toUpperCase()
    .replace(/[\s\-‐‑‒–—―_.]/g, "")
    .replace(/O/g, "0")
    .replace(/[IL]/g, "1");
  if (symbols.length !== 12 || [...symbols].some((c) => !CROCKFORD.includes(c))) return null;
  return `${symbols.slice(0, 4)}-${symbols.slice(4, 8)}-${symbols.slice(8)}`;
}

/** A ballot (or a pairwise entry's comparisons) in words; `labelOf(id)` names an option. */
export function ballotWords(entry, labelOf) {
  if (entry.comparisons) {
    const list = entry.comparisons.map((c) => (c.skip ? t("ballot.skip", { a: labelOf(c.winner), b: labelOf(c.loser) }) : t("ballot.prefer", { winner: labelOf(c.winner), loser: labelOf(c.loser) })));
    return `${t("ballot.pairwise", { n: entry.comparisons.length })}: ${list.join("; ")}`;
  }
  const b = entry.ballot || entry;
  switch (b.kind) {
    case "yes_no":
      return t("ballot.yes_no", { choice: t(`yes_no.${b.choice}`) });
    case "approval":
      return t("ballot.approval", { labels: b.options.map(labelOf).join(", ") });
    case "single_choice":
      return t("ballot.single_choice", { label: labelOf(b.option) });
    case "dots":
      return t("ballot.dots", { list: b.allocations.map((a) => `${labelOf(a.option)} ${formatNumber(a.dots)}`).join(", ") });
    case "score":
      return t("ballot.score", { list: b.scores.map((s) => `${labelOf(s.option)} ${formatNumber(s.score)}`).join(", ") });
    case "ranked":
      return t("ballot.ranked", { list: b.ranking.map((id, i) => `${i + 1}. ${labelOf(id)}`).join(", ") });
    default:
      return "?";
  }
}

const KEY = "madang.receipts";
/** At most this many receipts are kept per phone (oldest dropped). */
const MAX_KEPT = 200;

function readAll() {
  try {
    const all = JSON.parse(localStorage.getItem(KEY) || "{}");
    return all && typeof all === "object" ? all : {};
  } catch {
    return {};
  }
}

/** The receipt kept for a forum's poll: {receipt, ballot, words, replaced, at} or null. */
export function keptReceipt(forum, poll) {
  return readAll()[`${forum}/${poll}`] || null;
}

/**
 * Keep the latest receipt of a poll with what was cast (the wire ballot, or
 * for a pairwise poll the comparisons so far). A new receipt retires the old one.
 */
export function keepReceipt(forum, poll, receipt, cast) {
  const all = readAll();
  const key = `${forum}/${poll}`;
  const before = all[key];
  const replaced = !!before && before.receipt !== receipt;
  let entry;
  if (cast.comparison) {
    // Pairwise: one receipt for all comparisons; the latest answer to a pair replaces the earlier.
    const pair = (c) => [Math.min(c.winner, c.loser), Math.max(c.winner, c.loser)].join(":");
    const old = before && before.receipt === receipt ? before.comparisons || [] : [];
    const comparisons = old.filter((c) => pair(c) !== pair(cast.comparison)).concat([cast.comparison]);
    entry = { receipt, comparisons, replaced: before?.replaced || false, at: Date.now() };
  } else {
    entry = { receipt, ballot: cast.ballot, replaced: replaced || (before?.receipt === receipt && before.replaced) || false, at: Date.now() };
  }
  all[key] = entry;
  const keys = Object.keys(all);
  if (keys.length > MAX_KEPT) keys.sort((a, b) => (all[a].at || 0) - (all[b].at || 0)).slice(0, keys.length - MAX_KEPT).forEach((k) => delete all[k]);
  try {
    localStorage.setItem(KEY, JSON.stringify(all));
  } catch {
    // Storage full or refused (private mode): the receipt is still shown on screen.
  }
  return entry;
}

/** The record's lines (JSON lines text) parsed; lines that are not JSON are skipped. */
export function parseRecord(text) {
  const lines = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      lines.push(JSON.parse(line));
    } catch {
      // A line a v1 reader cannot parse says nothing it can check.
    }
  }
  return lines;
}

/** Where a receipt is in the record: {poll, opened, entry} or null. */
export function findReceipt(lines, receipt) {
  for (const line of lines) {
    if (line.type !== "poll_ballots") continue;
    const entry = (line.ballots || []).find((b) => b.receipt === receipt);
    if (entry) return { poll: line.poll, opened: lines.find((l) => l.type === "poll_opened" && l.poll === line.poll), entry };
  }
  return null;
}

/** Whether the record's entry holds exactly what the phone cast. */
export function sameAsCast(kept, entry) {
  if (kept.comparisons) {
    const key = (c) => `${c.winner}>${c.loser}${c.skip ? "?" : ""}`;
    const norm = (list) => list.map((c) => (c.skip ? { ...c, winner: Math.min(c.winner, c.loser), loser: Math.max(c.winner, c.loser) } : c)).map(key).sort().join(",");
    return !!entry.comparisons && norm(kept.comparisons) === norm(entry.comparisons);
  }
  return JSON.stringify(canonical(kept.ballot)) === JSON.stringify(canonical(entry.ballot));
}

/** A ballot with its keys sorted, so that key order does not matter when comparing. */
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])]));
  return value;
}
