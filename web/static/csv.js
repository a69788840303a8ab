// The console's CSV export: RFC 4180 cells and CRLF lines, safe to open in a
// spreadsheet.
//
// Spreadsheets (Excel, LibreOffice, Google Sheets) run a cell that begins with
// = + - @ TAB or CR as a formula, and poll titles and option labels are text
// that anyone may have typed (an option from an idea like `=HYPERLINK(…)`).
// Such a text cell gets a leading apostrophe and quotes (OWASP's advice for
// CSV injection), which spreadsheets show as the text itself. Only strings
// are neutralised: counts, means and positions are JavaScript numbers and
// stay numbers, negative ones too. No DOM here, so node can test it.

const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell for `value`: numbers as they are, text neutralised and quoted where needed. */
export function csvCell(value) {
  if (typeof value === "number") return String(value);
  const text = String(value ?? "");
  if (FORMULA_START.test(text)) return `"'${text.replace(/"/g, '""')}"`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The CSV text of `rows` (arrays of cells), each line ending in CRLF. */
export function csvText(rows) {
  return rows.map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/**
 * The results of every poll with a tally, one line per option (yes/no/abstain
 * for a yes/no poll). `state` is the console's client state: `polls`, a Map of
 * polls, and `tallyOf(poll id)`.
 */
export function outcomeCsv(state) {
  const rows = [["poll", "poll_title", "method", "status", "ballots", "option", "label", "value", "position"]];
  for (const p of [...state.polls.values()]) {
    const tally = state.tallyOf(p.id);
    if (!tally) continue;
    const r = tally.result;
    if (r.method === "yes_no") {
      for (const k of ["yes", "no", "abstain"]) rows.push([p.id, p.title, r.method, p.status, tally.ballots, "", k, r[k], ""]);
      continue;
    }
    const pos = new Map();
    let n = 1;
    for (const tier of r.ranking || []) {
      for (const id of tier) pos.set(id, n);
      n += tier.length;
    }
    const values = r.method === "score" ? r.stats.map((x) => [x.option, x.mean]) : (r.borda || r.counts).map((x) => [x.option, x.count]);
    for (const [option, value] of values) rows.push([p.id, p.title, r.method, p.status, tally.ballots, option, p.options.find((o) => o.id === option)?.label, value, pos.get(option) ?? ""]);
  }
  return csvText(rows);
}
