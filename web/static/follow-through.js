// What was done about a decision after the vote (SPEC §7.3 Follow-through):
// the responsible body's responses and the actions planned, each with its
// status updates. `followThroughView` shows it (console, phone, record
// page); `followThroughEditor` is the organizer's form in the console.
// An action whose target date has passed while it is neither done nor
// dropped is marked overdue.

import { t, formatDate } from "./i18n.js";
import { h } from "./ui.js";

/** Whether an action is overdue on `today` (YYYY-MM-DD, local). */
export function isOverdue(action, today = localToday()) {
  return !!action.target_date && action.target_date < today && action.status !== "done" && action.status !== "dropped";
}

function localToday() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const when = formatDate;

/** The follow-through of `poll` as a timeline; `null` when nothing is recorded. */
export function followThroughView(poll, { headingLevel = "h4" } = {}) {
  const ft = poll.follow_through;
  if (!ft) return null;
  const current = ft.responses[ft.responses.length - 1];
  return h(
    "section.follow-through",
    { "aria-label": t("follow.title") },
    h(headingLevel, t("follow.title")),
    current
      ? h(
          "div.follow-response",
          { "data-response": current.response },
          h("p", h("strong", t(`follow.response.${current.response}`)), ` · ${current.body} · ${when(current.at_ms)}`),
          h("p", current.reasons),
          ft.responses.length > 1
            ? h(
                "details",
                h("summary", t("follow.earlier", { n: ft.responses.length - 1 })),
                h("ul", ft.responses.slice(0, -1).map((r) => h("li", `${when(r.at_ms)} · ${r.body} · ${t(`follow.response.${r.response}`)}: ${r.reasons}`))),
              )
            : null,
        )
      : null,
    ft.actions.length
      ? h(
          "ol.follow-actions",
          ft.actions.map((a) => {
            const overdue = isOverdue(a);
            return h(
              "li.follow-action",
              { "data-status": a.status, "data-overdue": String(overdue) },
              h("p", h("strong", a.title), " ", h("span.badge", t(`follow.status.${a.status}`)), overdue ? h("span.badge.overdue", t("follow.overdue")) : null),
              a.target_date ? h("p.muted", t("follow.target", { date: a.target_date })) : null,
              a.updates.length
                ? h("ul.follow-updates", a.updates.map((u) => h("li", `${when(u.at_ms)} · ${t(`follow.status.${u.status}`)}${u.note ? `: ${u.note}` : ""}`)))
                : null,
            );
          }),
        )
      : null,
  );
}

// Drafts survive the console's re-renders (a tally tick redraws the poll list).
const drafts = new Map();
const draft = (key) => drafts.get(key) ?? "";
function field(key, control) {
  control.value = draft(key) || control.value;
  control.addEventListener("input", () => drafts.set(key, control.value));
  return control;
}

/** The organizer's follow-through forms for a closed poll. */
export function followThroughEditor(poll, send) {
  const id = (name) => `ft-${name}-${poll.id}`;
  const kind = field(id("kind"), h("select", { id: id("kind") }, ["adopted", "adopted_in_part", "declined"].map((k) => h("option", { value: k }, t(`follow.response.${k}`)))));
  const body = field(id("body"), h("input", { type: "text", id: id("body"), maxlength: 200, required: true }));
  const reasons = field(id("reasons"), h("textarea", { id: id("reasons"), rows: 2, maxlength: 1000, required: true }));
  const respond = h(
    "form.follow-form",
    { "data-form": "response" },
    h("h4", t("follow.record_response")),
    h("div.field", h("label", { for: id("body") }, t("follow.body")), body),
    h("div.field", h("label", { for: id("kind") }, t("follow.response")), kind),
    h("div.field", h("label", { for: id("reasons") }, t("follow.reasons")), reasons),
    h("button.small", { type: "submit" }, t("follow.save_response")),
  );
  respond.addEventListener("submit", (e) => {
    e.preventDefault();
    send("record_response", { poll: poll.id, body: body.value, response: kind.value, reasons: reasons.value }, t("follow.cmd.response", { id: poll.id }));
    for (const k of ["body", "reasons"]) drafts.delete(id(k));
  });
  const title = field(id("title"), h("input", { type: "text", id: id("title"), maxlength: 200, required: true }));
  const date = field(id("date"), h("input", { type: "date", id: id("date"), min: "2000-01-01", max: "2999-12-31" }));
  const plan = h(
    "form.follow-form",
    { "data-form": "action" },
    h("h4", t("follow.plan_action")),
    h("div.field", h("label", { for: id("title") }, t("follow.action_title")), title),
    h("div.field", h("label", { for: id("date") }, t("follow.target_date")), date),
    h("button.small", { type: "submit" }, t("follow.add_action")),
  );
  plan.addEventListener("submit", (e) => {
    e.preventDefault();
    send("plan_action", { poll: poll.id, title: title.value, ...(date.value ? { target_date: date.value } : {}) }, t("follow.cmd.action", { id: poll.id }));
    for (const k of ["title", "date"]) drafts.delete(id(k));
  });
  const actions = poll.follow_through?.actions || [];
  const update = actions.length
    ? (() => {
        const which = field(id("action"), h("select", { id: id("action") }, actions.map((a) => h("option", { value: a.id }, `${a.id}. ${a.title}`))));
        const status = field(id("status"), h("select", { id: id("status") }, ["planned", "in_progress", "done", "dropped"].map((k) => h("option", { value: k }, t(`follow.status.${k}`)))));
        const note = field(id("note"), h("input", { type: "text", id: id("note"), maxlength: 1000 }));
        const form = h(
          "form.follow-form",
          { "data-form": "update" },
          h("h4", t("follow.update_action")),
          h("div.field", h("label", { for: id("action") }, t("follow.action")), which),
          h("div.field", h("label", { for: id("status") }, t("follow.status")), status),
          h("div.field", h("label", { for: id("note") }, t("follow.note")), note),
          h("button.small", { type: "submit" }, t("follow.save_update")),
        );
        form.addEventListener("submit", (e) => {
          e.preventDefault();
          send("update_action", { action: Number(which.value), status: status.value, ...(note.value.trim() ? { note: note.value } : {}) }, t("follow.cmd.update", { id: which.value }));
          drafts.delete(id("note"));
        });
        return form;
      })()
    : null;
  const editor = h("details.follow-editor", { "data-follow-poll": poll.id, open: openEditors.has(poll.id) }, h("summary", t("follow.edit")), respond, plan, update);
  editor.addEventListener("toggle", () => (editor.open ? openEditors.add(poll.id) : openEditors.delete(poll.id)));
  return editor;
}

const openEditors = new Set();
