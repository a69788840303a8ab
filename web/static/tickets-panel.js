// The console's "Participation tickets" panel: who may join (open or
// ticketed, chosen before the forum starts), issue tickets per channel,
// issued / used / revoked counts, revoke a lost ticket, print the sheet and
// download the codes as CSV (SPEC §3, §4, §7.3 "Eligibility and tickets").
//
// The panel is built once and updated in place, so that a number being typed
// survives the forum's updates.

import { t, formatNumber } from "./i18n.js";
import { h, replace } from "./ui.js";

let built = null;

function build(el, send, token) {
  const eligibility = h("select", { id: "eligibility" },
    h("option", { value: "open" }, t("tickets.open")),
    h("option", { value: "ticketed" }, t("tickets.ticketed")));
  eligibility.addEventListener("change", () =>
    send("set_eligibility", { eligibility: eligibility.value }, t("tickets.cmd.eligibility", { what: t(`tickets.${eligibility.value}`) })));
  const counts = h("div", { id: "ticket-counts" });
  const channel = h("select", { id: "ticket-channel" },
    h("option", { value: "hall" }, t("tickets.channel.hall")),
    h("option", { value: "remote" }, t("tickets.channel.remote")));
  const count = h("input", { type: "number", id: "ticket-count", min: 1, max: 1000, step: 1, value: 50, required: true });
  const issue = h(
    "form#issue-tickets.row",
    h("div.field", h("label", { for: "ticket-channel" }, t("tickets.for")), channel),
    h("div.field", h("label", { for: "ticket-count" }, t("tickets.how_many")), count),
    h("button", { type: "submit" }, t("tickets.issue")),
  );
  issue.addEventListener("submit", (e) => {
    e.preventDefault();
    const n = Number(count.value);
    if (!Number.isInteger(n) || n < 1 || n > 1000) return;
    send("issue_tickets", { channel: channel.value, count: n }, t("tickets.cmd.issue", { n: formatNumber(n), channel: t(`tickets.channel.${channel.value}`) }));
  });
  const number = h("input", { type: "number", id: "revoke-number", min: 1, step: 1, required: true });
  const revoke = h(
    "form#revoke-ticket.row",
    h("div.field", h("label", { for: "revoke-number" }, t("tickets.revoke_number")), number),
    h("button.danger", { type: "submit" }, t("tickets.revoke")),
  );
  revoke.addEventListener("submit", (e) => {
    e.preventDefault();
    const n = Number(number.value);
    if (!Number.isInteger(n) || n < 1) return;
    // Revoking withdraws the holder's open ballots: never one click by accident.
    if (!confirm(t("tickets.revoke_confirm", { n }))) return;
    send("revoke_ticket", { ticket: n }, t("tickets.cmd.revoke", { n }));
    number.value = "";
  });
  const sheet = h("a.button.secondary", { id: "ticket-sheet", target: "_blank", rel: "noopener" }, t("tickets.print"));
  const csv = h("button.secondary", { type: "button", id: "ticket-csv" }, t("tickets.csv"));
  csv.addEventListener("click", () => downloadCsv(built.forumId, token));
  replace(
    el,
    h("div.field", h("label", { for: "eligibility" }, t("tickets.who")), eligibility, h("p.hint", { id: "eligibility-hint" })),
    counts,
    h("div", { id: "ticket-actions" }, issue, revoke, h("p.row", sheet, " ", csv)),
  );
  return { eligibility, counts, issue, revoke, sheet, csv, forumId: null };
}

async function downloadCsv(forumId, token) {
  const res = await fetch(`/api/forums/${encodeURIComponent(forumId)}/tickets?format=csv`, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) return;
  const url = URL.createObjectURL(await res.blob());
  const a = h("a", { href: url, download: `tickets-${forumId}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function countsTable(tickets) {
  const row = (channel) => {
    const c = tickets?.[channel] || { issued: 0, used: 0, revoked: 0 };
    return h("tr", h("th", { scope: "row" }, t(`tickets.channel.${channel}`)), h("td", formatNumber(c.issued)), h("td", formatNumber(c.used)), h("td", formatNumber(c.revoked)));
  };
  return h(
    "table.ticket-counts",
    h("caption.visually-hidden", t("tickets.title")),
    h("thead", h("tr", h("td"), h("th", { scope: "col" }, t("tickets.issued")), h("th", { scope: "col" }, t("tickets.used")), h("th", { scope: "col" }, t("tickets.revoked")))),
    h("tbody", row("hall"), row("remote")),
  );
}

// Folded in an open forum (it is one choice there), open in a ticketed one,
// until the moderator opens or closes it themselves.
let boxTouched = false;

/** Fill (or update) the panel from the forum's state. */
export function renderTicketsPanel(el, state, send, token) {
  const box = el.closest("details");
  if (box && !box.dataset.watched) {
    box.dataset.watched = "1";
    box.querySelector("summary")?.addEventListener("click", () => (boxTouched = true));
  }
  if (box && !boxTouched) box.open = state.forum.eligibility === "ticketed";
  if (!built || !el.contains(built.eligibility)) built = build(el, send, token);
  const forum = state.forum;
  built.forumId = forum.id;
  const ticketed = forum.eligibility === "ticketed";
  built.eligibility.value = ticketed ? "ticketed" : "open";
  built.eligibility.disabled = forum.status !== "draft";
  el.querySelector("#eligibility-hint").textContent = t(forum.status === "draft" ? (ticketed ? "tickets.hint_ticketed" : "tickets.hint_open") : "tickets.hint_started");
  const tickets = state.participants?.tickets;
  replace(built.counts, tickets ? countsTable(tickets) : h("p.muted", t("tickets.none")));
  // Tickets are issued for ticketed forums; revoking needs one issued; nothing changes once closed.
  const closed = forum.status === "closed";
  built.issue.hidden = !ticketed || closed;
  built.revoke.hidden = !tickets || closed;
  built.sheet.hidden = built.csv.hidden = !tickets;
  built.sheet.href = `/tickets#token=${encodeURIComponent(token)}&forum=${encodeURIComponent(forum.id)}`;
}

/** The panel is rebuilt in the new language. */
export function resetTicketsPanel() {
  built = null;
}
