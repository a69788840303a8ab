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

/** What each method's `value` counts (a ranked poll is named by the method that decides it). */
const MEASURES = {
  yes_no: "votes",
  approval: "approvals",
  dots: "dots",
  single_choice: "picks",
  score: "mean_score",
  borda: "borda_points",
  instant_runoff: "final_round_votes",
  schulze: "options_beaten",
  pairwise: "strength",
};

/** Per option: the value of the measure in a result, for the measures that add up over channels; else null. */
function additive(result, measure) {
  if (!result) return null;
  if (measure === "borda_points") return new Map((result.borda || []).map((c) => [c.option, c.count]));
  if (measure === "mean_score") return new Map((result.stats || []).map((c) => [c.option, c.mean]));
  if (measure === "approvals" || measure === "dots" || measure === "picks") return new Map((result.counts || []).map((c) => [c.option, c.count]));
  return null;
}

/** The decisive method's own measure per option, in option order: [[option, value], ...]. */
function measured(tally, method) {
  const r = tally.result;
  if (method === "instant_runoff") {
    const last = new Map();
    for (const round of tally.ranked?.instant_runoff?.rounds || []) for (const c of round.counts) last.set(c.option, c.count);
    return (tally.ranked?.options || r.borda.map((c) => c.option)).map((id) => [id, last.get(id) ?? 0]);
  }
  if (method === "schulze") {
    const ids = tally.ranked?.options || [];
    const strongest = tally.ranked?.schulze?.strongest || [];
    return ids.map((id, i) => [id, ids.reduce((n, _, j) => n + (strongest[i]?.[j] > strongest[j]?.[i] ? 1 : 0), 0)]);
  }
  if (method === "pairwise") return r.stats.map((x) => [x.option, x.strength]);
  return [...additive(r, MEASURES[method]).entries()];
}

/**
 * The results of every poll with a tally, one line per option (yes/no/abstain
 * for a yes/no poll): the deciding method, its own measure in `value` (never
 * Borda points for a poll that instant-runoff or Schulze decides), the hall
 * (devices and hand count) and online split of the ballots and, where the
 * measure adds up over channels, of the value, and the verdict: `winner` or
 * `tied_winner` on the first tier, `passed`/`failed`/`tie` for a yes/no poll,
 * `no_votes` when nothing was counted. `state` is the console's client state:
 * `polls`, a Map of polls, and `tallyOf(poll id)`.
 */
export function outcomeCsv(state) {
  const rows = [["poll", "poll_title", "method", "status", "ballots", "hall_ballots", "online_ballots", "option", "label", "measure", "value", "hall_value", "online_value", "position", "verdict"]];
  for (const p of [...state.polls.values()]) {
    const tally = state.tallyOf(p.id);
    if (!tally) continue;
    const r = tally.result;
    const none = !!tally.no_votes || tally.ballots === 0;
    const bc = tally.by_channel || {};
    const hallBallots = (bc.hall?.ballots || 0) + (bc.hall_count?.ballots || 0);
    const onlineBallots = bc.remote?.ballots || 0;
    const method = r.method === "ranked" ? r.tally || "borda" : r.method;
    const measure = MEASURES[method];
    const head = [p.id, p.title, method, p.status, tally.ballots, hallBallots, onlineBallots];
    if (r.method === "yes_no") {
      const verdict = none ? "no_votes" : r.tie ? "tie" : r.passed ? "passed" : "failed";
      const part = (name, k) => (bc[name]?.result ? bc[name].result[k] || 0 : null);
      for (const k of ["yes", "no", "abstain"]) {
        const hall = part("hall", k) === null && part("hall_count", k) === null ? "" : (part("hall", k) || 0) + (part("hall_count", k) || 0);
        rows.push([...head, "", k, measure, r[k], hall, part("remote", k) ?? "", "", verdict]);
      }
      continue;
    }
    const pos = new Map();
    let n = 1;
    for (const tier of none ? [] : r.ranking || []) {
      for (const id of tier) pos.set(id, { n, verdict: n === 1 ? (tier.length > 1 ? "tied_winner" : "winner") : "" });
      n += tier.length;
    }
    const [hallA, paperA, remoteA] = ["hall", "hall_count", "remote"].map((name) => additive(bc[name]?.result, measure));
    for (const [option, value] of measured(tally, method)) {
      const hall = hallA || paperA ? (hallA?.get(option) || 0) + (paperA?.get(option) || 0) : "";
      const online = remoteA ? remoteA.get(option) || 0 : "";
      const at = pos.get(option);
      rows.push([...head, option, p.options.find((o) => o.id === option)?.label, measure, value, hall, online, at?.n ?? "", none ? "no_votes" : at?.verdict || ""]);
    }
  }
  return csvText(rows);
}
