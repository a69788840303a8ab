// The console's one-page summary of a forum's outcomes: every closed poll by
// agenda item, with its method, its outcome in words (the verdict of a yes/no
// poll, else the chosen options, ties said), its votes by channel and when it
// closed. Made to be printed (app.css hides everything else on paper) and
// handed out or filed as the record of the session.

import { t, formatNumber, formatDateTime } from "./i18n.js";
import { h } from "./ui.js";

function methodWords(poll) {
  const m = poll.method;
  return m.kind === "ranked" ? `${t("method.ranked")} (${t(`ranked_tally.${m.tally || "borda"}`)})` : t(`method.${m.kind}`);
}

/** The outcome of a closed poll in words. */
export function outcomeWords(poll, tally) {
  if (!tally) return "";
  const r = tally.result;
  if (tally.no_votes || tally.ballots === 0) return t("console.poll_outcome_none");
  if (r.method === "yes_no") return `${r.tie ? t("yes_no.tie") : r.passed ? t("yes_no.passed") : t("yes_no.failed")} (${t(`rule.${r.rule}`)})`;
  const first = r.ranking?.[0] || [];
  const labels = first.map((id) => poll.options.find((o) => o.id === id)?.label ?? `#${id}`).join(", ");
  return t(first.length > 1 ? "console.summary.tied" : "console.summary.winner", { labels });
}

function channelWords(tally) {
  const bc = tally?.by_channel;
  if (!tally) return "";
  const paper = bc?.hall_count?.ballots || 0;
  const split = t("results.by_channel", { hall: formatNumber((bc?.hall?.ballots || 0) + paper), remote: formatNumber(bc?.remote?.ballots || 0) });
  return [t("results.votes", { n: formatNumber(tally.ballots) }), bc ? split : null, paper ? t("console.summary.hand", { n: formatNumber(paper) }) : null].filter(Boolean).join(" · ");
}

function when(ms) {
  return typeof ms === "number" ? formatDateTime(ms) : "—";
}

/**
 * The summary's content for the console's state. `actions` holds the print and
 * back buttons' handlers; `now` is the server's clock.
 */
export function renderSummary(state, { now, onPrint, onClose }) {
  const polls = [...state.polls.values()].sort((a, b) => a.id - b.id);
  const closed = polls.filter((p) => p.status === "closed");
  const items = state.agenda.filter((item) => closed.some((p) => p.item === item.id));
  const orphans = closed.filter((p) => !state.agenda.some((item) => item.id === p.item));
  const pollBlock = (poll) => {
    const tally = state.tallyOf(poll.id);
    return h(
      "article.summary-poll",
      { "data-summary-poll": poll.id },
      h("h4", `#${poll.id} ${poll.title}`),
      h(
        "dl.summary-facts",
        h("dt", t("console.summary.method")),
        h("dd", methodWords(poll)),
        h("dt", t("console.summary.outcome")),
        h("dd.summary-outcome", outcomeWords(poll, tally)),
        h("dt", t("console.summary.counts")),
        h("dd", channelWords(tally)),
        h("dt", t("console.summary.closed_at")),
        h("dd", when(poll.outcome?.closed_at_ms)),
      ),
    );
  };
  const waiting = polls.length - closed.length;
  return [
    h(
      "div.summary-head",
      h("h2#summary-h", { tabindex: "-1" }, t("console.summary.title", { title: state.forum?.title || "" })),
      h("p.muted", t("console.summary.made", { time: when(now), status: t(`status.${state.forum?.status}`) })),
      h(
        "div.row.summary-actions",
        h("button.secondary", { type: "button", id: "summary-print", onclick: onPrint }, t("console.summary.print")),
        h("button", { type: "button", id: "summary-close", onclick: onClose }, t("console.summary.close")),
      ),
    ),
    closed.length ? null : h("p", t("console.summary.none")),
    items.map((item) => h("section.summary-item", h("h3", `${t("console.summary.item")}: ${item.title}`), closed.filter((p) => p.item === item.id).map(pollBlock))),
    orphans.map(pollBlock),
    waiting ? h("p.muted", t("console.summary.open_polls", { n: formatNumber(waiting) })) : null,
  ];
}
