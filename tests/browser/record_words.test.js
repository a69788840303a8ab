// Without a browser: receipts typed by hand are read as RECORD.md's
// alphabet reads them, a ballot is found in a record by its receipt, and the
// record page's, receipts' and fingerprint's words exist in both languages.

import { test } from "node:test";
import assert from "node:assert/strict";
import { catalogs } from "../../web/static/i18n.js";
import { normalizeReceipt, parseRecord, findReceipt, sameAsCast, keepReceipt, keptReceipt } from "../../web/static/receipts.js";

test("receipts are read whatever their case, spacing and dashes, with O as 0 and I, L as 1", () => {
  assert.equal(normalizeReceipt("7k2m-q9xd-41pa"), "7K2M-Q9XD-41PA");
  assert.equal(normalizeReceipt(" 7K2M Q9XD 41PA "), "7K2M-Q9XD-41PA");
  assert.equal(normalizeReceipt("7K2MQ9XD41PA"), "7K2M-Q9XD-41PA");
  assert.equal(normalizeReceipt("7K2M–Q9XD—41PA"), "7K2M-Q9XD-41PA");
  assert.equal(normalizeReceipt("OIL0-0000-0000"), "0110-0000-0000");
  for (const bad of ["", "7K2M-Q9XD-41P", "7K2M-Q9XD-41PAX", "7K2M-Q9XD-41PU", "<script>"]) assert.equal(normalizeReceipt(bad), null, bad);
});

test("a receipt is found in the record's poll_ballots and compared with what was cast", () => {
  const record = [
    { n: 1, type: "forum" },
    { n: 2, type: "poll_opened", poll: 1, options: [] },
    { n: 3, type: "poll_ballots", poll: 1, ballots: [{ receipt: "AAAA-AAAA-AAAA", channel: "hall", weight: 1, ballot: { kind: "yes_no", choice: "yes" } }] },
    { n: 4, type: "poll_ballots", poll: 2, ballots: [{ receipt: "BBBB-BBBB-BBBB", channel: "remote", comparisons: [{ winner: 2, loser: 1 }, { winner: 1, loser: 3, skip: true }] }] },
  ];
  const lines = parseRecord(record.map((l) => JSON.stringify(l)).join("\n") + "\nnot json\n");
  assert.equal(lines.length, 4, "a line that is not JSON is skipped");
  const found = findReceipt(lines, "AAAA-AAAA-AAAA");
  assert.equal(found.poll, 1);
  assert.equal(sameAsCast({ ballot: { choice: "yes", kind: "yes_no" } }, found.entry), true, "key order does not matter");
  assert.equal(sameAsCast({ ballot: { kind: "yes_no", choice: "no" } }, found.entry), false);
  const pairwise = findReceipt(lines, "BBBB-BBBB-BBBB");
  assert.equal(sameAsCast({ comparisons: [{ winner: 3, loser: 1, skip: true }, { winner: 2, loser: 1 }] }, pairwise.entry), true, "a skip names its pair lower id first");
  assert.equal(findReceipt(lines, "CCCC-CCCC-CCCC"), null);
});

test("every word of the record page, receipts and fingerprint is in Korean and English", async () => {
  const before = { en: new Set(Object.keys(catalogs.en)), ko: new Set(Object.keys(catalogs.ko)) };
  await import("../../web/static/i18n-record.js");
  const added = (lang) => Object.keys(catalogs[lang]).filter((k) => !before[lang].has(k) || /^(record|receipt|ballot)\./.test(k) || k === "projector.fingerprint");
  assert.deepEqual(added("ko").sort(), added("en").sort());
  assert.ok(added("en").length > 50);
});

test("a phone keeps the latest receipt per poll; a pairwise poll's answers gather under one receipt", () => {
  const store = new Map();
  globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
  keepReceipt("f1", 1, "AAAA-AAAA-AAAA", { ballot: { kind: "yes_no", choice: "no" } });
  assert.equal(keptReceipt("f1", 1).replaced, false);
  keepReceipt("f1", 1, "BBBB-BBBB-BBBB", { ballot: { kind: "yes_no", choice: "yes" } });
  assert.deepEqual([keptReceipt("f1", 1).receipt, keptReceipt("f1", 1).ballot.choice, keptReceipt("f1", 1).replaced], ["BBBB-BBBB-BBBB", "yes", true]);
  keepReceipt("f1", 2, "CCCC-CCCC-CCCC", { comparison: { winner: 1, loser: 2 } });
  keepReceipt("f1", 2, "CCCC-CCCC-CCCC", { comparison: { winner: 3, loser: 1 } });
  keepReceipt("f1", 2, "CCCC-CCCC-CCCC", { comparison: { winner: 2, loser: 1 } });
  // The same pair answered again replaces the earlier answer and moves to where it was given again (RECORD.md §4).
  assert.deepEqual(keptReceipt("f1", 2).comparisons, [{ winner: 3, loser: 1 }, { winner: 2, loser: 1 }]);
  assert.equal(keptReceipt("f2", 1), null, "per forum");
  delete globalThis.localStorage;
});
