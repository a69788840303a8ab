// The moderator's hand count of an open poll (`enter_hall_count`), shaped by
// the poll's method. The form keeps a draft per poll, so the console can
// re-render around it; entering again replaces the earlier count (a correction).

import { t, formatNumber, errorText } from "./i18n.js";
import { h, replace, liveOptions } from "./ui.js";

const drafts = new Map(); // poll id -> draft
const forms = new Map(); // poll id -> { key, el, status }

const int = (v) => (v === "" || v === undefined || v === null ? 0 : Number(v));

/** The draft of a poll, from what is in force (poll.hall_count) when there is none yet. */
function draftOf(poll) {
  if (drafts.has(poll.id)) return drafts.get(poll.id);
  const options = liveOptions(poll);
  const c = poll.hall_count;
  let d;
  switch (poll.method.kind) {
    case "yes_no":
      d = { yes: c?.yes ?? "", no: c?.no ?? "", abstain: c?.abstain ?? "" };
      break;
    case "single_choice":
    case "approval":
    case "dots":
      d = { people: c?.people ?? "", counts: Object.fromEntries(options.map((o) => [o.id, c?.counts?.find((x) => x.option === o.id)?.count ?? ""])) };
      break;
    case "score":
      d = {
        people: c?.people ?? "",
        scores: Object.fromEntries(options.map((o) => [o.id, (c?.scores?.find((x) => x.option === o.id)?.distribution || [0, 0, 0, 0, 0, 0]).map((n) => (n ? n : ""))])),
      };
      break;
    case "ranked": {
      const slots = rankSlots(poll);
      const rows = (c?.ballots || []).map((b) => ({ count: b.count, ranking: Array.from({ length: slots }, (_, i) => b.ranking[i] ?? null) }));
      d = { rows: rows.length ? rows : [newRow(poll)] };
      break;
    }
    default:
      d = {};
  }
  drafts.set(poll.id, d);
  return d;
}

function rankSlots(poll) {
  const n = liveOptions(poll).length;
  return poll.method.max_ranks ? Math.min(poll.method.max_ranks, n) : n;
}

/** A new paper ranking starts empty: an order filled in beforehand would be entered unread. */
function newRow(poll) {
  return { count: "", ranking: Array.from({ length: rankSlots(poll) }, () => null) };
}

/** The `counts` of enter_hall_count, from the draft (numbers as typed: the server judges them). */
function countsOf(poll, d) {
  const kind = poll.method.kind;
  const options = liveOptions(poll);
  switch (kind) {
    case "yes_no":
      return { kind, yes: int(d.yes), no: int(d.no), abstain: int(d.abstain) };
    case "single_choice":
      return { kind, counts: options.map((o) => ({ option: o.id, count: int(d.counts[o.id]) })) };
    case "approval":
    case "dots":
      return { kind, people: int(d.people), counts: options.map((o) => ({ option: o.id, count: int(d.counts[o.id]) })) };
    case "score":
      return {
        kind,
        people: int(d.people),
        scores: options.map((o) => ({ option: o.id, distribution: d.scores[o.id].map(int) })).filter((s) => s.distribution.some((n) => n !== 0)),
      };
    case "ranked":
      return { kind, ballots: d.rows.map((r) => ({ ranking: r.ranking.filter((id) => id !== null), count: int(r.count) })) };
  }
  return { kind };
}

function numberInput(id, key, value, onInput, extra = {}) {
  return h("input", { type: "number", id, "data-key": key, min: 0, max: 100000, step: 1, inputmode: "numeric", value, oninput: (e) => onInput(e.target.value), ...extra });
}

function body(poll, d, redraw) {
  const p = poll.id;
  const options = liveOptions(poll);
  const people = () =>
    h("div.hall-grid", h("label", { for: `hc-${p}-people` }, t("console.hall.people")), numberInput(`hc-${p}-people`, `hc-${p}-people`, d.people, (v) => (d.people = v)));
  switch (poll.method.kind) {
    case "yes_no":
      return h(
        "div.hall-grid",
        ["yes", "no", "abstain"].map((k) => [h("label", { for: `hc-${p}-${k}` }, t(`yes_no.${k}`)), numberInput(`hc-${p}-${k}`, `hc-${p}-${k}`, d[k], (v) => (d[k] = v))]),
      );
    case "single_choice":
    case "approval":
    case "dots":
      return [
        poll.method.kind === "single_choice" ? null : people(),
        h(
          "fieldset",
          h("legend", t({ single_choice: "console.hall.picks", approval: "console.hall.approvals", dots: "console.hall.dots" }[poll.method.kind])),
          h(
            "div.hall-grid",
            options.map((o) => [h("label", { for: `hc-${p}-o${o.id}` }, o.label), numberInput(`hc-${p}-o${o.id}`, `hc-${p}-o${o.id}`, d.counts[o.id], (v) => (d.counts[o.id] = v))]),
          ),
        ),
      ];
    case "score":
      return [
        people(),
        h(
          "table.hall-score",
          h("caption.visually-hidden", t("console.hall.scores")),
          h("thead", h("tr", h("th", { scope: "col" }, t("console.hall.option")), [0, 1, 2, 3, 4, 5].map((n) => h("th", { scope: "col" }, String(n))))),
          h(
            "tbody",
            options.map((o) =>
              h(
                "tr",
                h("th", { scope: "row" }, o.label),
                [0, 1, 2, 3, 4, 5].map((n) =>
                  h(
                    "td",
                    numberInput(`hc-${p}-s${o.id}-${n}`, `hc-${p}-s${o.id}-${n}`, d.scores[o.id][n], (v) => (d.scores[o.id][n] = v), {
                      "aria-label": t("console.hall.score_cell", { label: o.label, score: n }),
                    }),
                  ),
                ),
              ),
            ),
          ),
        ),
      ];
    case "ranked": {
      const removeButton = (r) =>
        d.rows.length > 1
          ? h(
              "button.small.danger",
              {
                type: "button",
                "data-key": `hc-${p}-r${r}-rm`,
                "aria-label": t("console.hall.remove_row_of", { n: r + 1 }),
                onclick: () => {
                  d.rows.splice(r, 1);
                  redraw(`hc-${p}-add`);
                },
              },
              t("console.hall.remove_row"),
            )
          : null;
      return [
        h("p.hint", t("console.hall.rankings")),
        h(
          "ol.paper-rows",
          d.rows.map((row, r) =>
            h(
              "li.paper-row",
              { "data-row": r + 1 },
              h(
                "div.paper-head",
                h("span.paper-n", { "aria-hidden": "true" }, `${r + 1}.`),
                h(
                  "label",
                  t("console.hall.ballots"),
                  " ",
                  numberInput(`hc-${p}-r${r}-count`, `hc-${p}-r${r}-count`, row.count, (v) => (row.count = v), { "aria-label": t("console.hall.ballots_of", { n: r + 1 }), min: 1 }),
                ),
                removeButton(r),
              ),
              h("div.paper-ranks", row.ranking.map((value, i) =>
                h(
                  "label",
                  t("console.hall.rank_pos", { n: i + 1 }),
                  " ",
                  h(
                    "select",
                    {
                      "data-key": `hc-${p}-r${r}-k${i}`,
                      "aria-label": t("console.hall.rank_of", { n: r + 1, pos: i + 1 }),
                      onchange: (e) => {
                        const next = e.target.value === "" ? null : Number(e.target.value);
                        // Picking an option that is ranked elsewhere in the row swaps the two: the row stays an ordering.
                        const other = next === null ? -1 : row.ranking.indexOf(next);
                        if (other >= 0 && other !== i) row.ranking[other] = row.ranking[i];
                        row.ranking[i] = next;
                        redraw();
                      },
                    },
                    h("option", { value: "", selected: value === null }, t("console.hall.rank_none")),
                    options.map((o) => h("option", { value: o.id, selected: value === o.id }, o.label)),
                  ),
                ),
              )),
            ),
          ),
        ),
        h(
          "button.small.secondary",
          {
            type: "button",
            id: `hc-${p}-add`,
            "data-key": `hc-${p}-add`,
            onclick: () => {
              d.rows.push(newRow(poll));
              redraw(`hc-${p}-r${d.rows.length - 1}-count`);
            },
          },
          t("console.hall.add_row"),
        ),
      ];
    }
  }
  return null;
}

/**
 * The hall count form of an open poll. The element is kept between renders
 * (same poll, options and language), so typing is never interrupted.
 * ctx.send(type, fields) returns the request id; report(id, ...) is called by the page.
 */
export function hallCountForm(poll, ctx) {
  const key = JSON.stringify([poll.method, liveOptions(poll).map((o) => [o.id, o.label]), document.documentElement.lang]);
  const cached = forms.get(poll.id);
  if (cached && cached.key === key) return cached.el;
  const d = draftOf(poll);
  const inner = h("div.hall-body");
  const status = h("p.hall-status", { id: `hc-${poll.id}-status`, role: "status", "aria-live": "polite" });
  const said = cached?.said;
  if (said) setStatus(status, said.state, said.text);
  const redraw = (focusKey) => {
    replace(inner, body(poll, d, redraw));
    if (focusKey) inner.parentElement?.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  };
  const form = h(
    "form.hall-count",
    { "data-hall-form": poll.id, "aria-label": `${t("console.hall.title")}: #${poll.id} ${poll.title}`, "aria-describedby": `hc-${poll.id}-hint`, novalidate: true },
    h("h4", { id: `hc-${poll.id}-h` }, t("console.hall.title")),
    h("p.hint", { id: `hc-${poll.id}-hint` }, t("console.hall.hint")),
    inner,
    status,
    h("button.small", { type: "submit", id: `hc-${poll.id}-enter`, "data-key": `hc-${poll.id}-enter` }, t("console.hall.enter")),
  );
  replace(inner, body(poll, d, redraw));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const counts = countsOf(poll, d);
    const id = ctx.send("enter_hall_count", { poll: poll.id, counts }, t("console.hall.enter"));
    if (!id) return;
    pendingIds.set(id, { poll: poll.id, people: peopleOf(counts) });
    const kept = forms.get(poll.id);
    const said = setStatus(status, "sent", () => t("console.hall.sending"));
    if (kept?.el === form) kept.said = said;
  });
  forms.set(poll.id, { key, el: form, status, said });
  return form;
}

function peopleOf(counts) {
  if (counts.kind === "yes_no") return counts.yes + counts.no + counts.abstain;
  if (counts.kind === "ranked") return counts.ballots.reduce((a, b) => a + b.count, 0);
  if (counts.kind === "single_choice") return counts.counts.reduce((a, c) => a + c.count, 0);
  return counts.people;
}

/** The people of a hall count in force. */
export function hallCountPeople(counts) {
  return counts ? peopleOf(counts) : 0;
}

const pendingIds = new Map(); // request id -> { poll, people }

/** An ack or error for a request: show it next to its form. Returns true when it was a hall count. */
export function reportHallCount(frame) {
  const sent = pendingIds.get(frame.id);
  if (!sent) return false;
  pendingIds.delete(frame.id);
  const kept = forms.get(sent.poll);
  if (!kept) return true;
  if (frame.type === "ack") {
    kept.said = setStatus(kept.status, "saved", () => t("console.hall.saved", { n: formatNumber(sent.people) }));
  } else {
    // Which paper ranking broke the rule is the one thing taken from the server's (English) message: its number.
    const row = /^paper ranking (\d+)\b/.exec(frame.message || "")?.[1];
    kept.said = setStatus(
      kept.status,
      "error",
      () =>
        t("console.hall.refused", { message: (row ? `${t("console.hall.ranking_n", { n: row })}: ` : "") + errorText(frame) }) +
        (frame.rule ? ` (${t("console.hall.rule", { rule: frame.rule })})` : ""),
    );
  }
  return true;
}


/** Show a status (text as a function, so that it is translated again after a language switch). */
function setStatus(el, state, text) {
  el.dataset.state = state;
  el.textContent = text();
  return { state, text };
}
