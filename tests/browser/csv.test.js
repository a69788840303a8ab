// The console's CSV export, without a browser: text that people typed (poll
// titles, option labels taken from ideas) must not become a spreadsheet
// formula when the organizer opens the file, and counts must stay numbers.

import { test } from "node:test";
import assert from "node:assert/strict";
import { csvCell, outcomeCsv } from "../../web/static/csv.js";

test("cells that a spreadsheet would run as a formula get an apostrophe and quotes", () => {
  for (const text of ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd", "-2+3", "@SUM(A1)|cmd", "\tx", "\rx"]) {
    const cell = csvCell(text);
    assert.equal(cell, `"'${text.replace(/"/g, '""')}"`, JSON.stringify(text));
  }
});

test("plain text is left as it is, and quoted only when it must be", () => {
  assert.equal(csvCell("Bike lanes"), "Bike lanes");
  assert.equal(csvCell("a, b"), '"a, b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell("two\nlines"), '"two\nlines"');
  assert.equal(csvCell("two\r\nlines"), '"two\r\nlines"');
  assert.equal(csvCell("a=b"), "a=b");
  assert.equal(csvCell(null), "");
  assert.equal(csvCell(undefined), "");
});

test("numbers stay numbers, negative ones too", () => {
  assert.equal(csvCell(12), "12");
  assert.equal(csvCell(-1.5), "-1.5");
  assert.equal(csvCell(0), "0");
});

test("the outcome export neutralises labels and titles and keeps counts", () => {
  const poll = {
    id: 3,
    title: "=1+1",
    status: "closed",
    options: [{ id: 1, label: "@SUM(1+1)*cmd|' /C calc'!A0" }, { id: 2, label: "Trees" }],
  };
  const tally = {
    ballots: 5,
    result: { method: "approval", counts: [{ option: 1, count: 4 }, { option: 2, count: 1 }], ranking: [[1], [2]] },
  };
  const state = { polls: new Map([[3, poll]]), tallyOf: (id) => (id === 3 ? tally : null) };
  const lines = outcomeCsv(state).split("\r\n");
  assert.deepEqual(lines, [
    "poll,poll_title,method,status,ballots,hall_ballots,online_ballots,option,label,measure,value,hall_value,online_value,position,verdict",
    `3,"'=1+1",approval,closed,5,0,0,1,"'@SUM(1+1)*cmd|' /C calc'!A0",approvals,4,,,1,winner`,
    "3,\"'=1+1\",approval,closed,5,0,0,2,Trees,approvals,1,,,2,",
    "",
  ]);
});
