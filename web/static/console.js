// The moderator console: /console#token=<moderator token>[&display=<display token>]

import { Client, storage } from "./client.js";
import { t, translate, mountLanguageSwitch, setForumLanguage, onLanguageChange, errorText } from "./i18n.js";
import "./i18n-record.js";
import { h, $, replace, connectionBadge, renderTally, timerBlock, startCountdowns, storedTheme, speakerName, renderTemperature, clockText } from "./ui.js";
import { formatNumber } from "./i18n.js";
import { hallCountForm, reportHallCount, hallCountPeople } from "./hallcount.js";
import { formatClock } from "./client.js";
import { outcomeCsv } from "./csv.js";
import { renderSummary, outcomeWords } from "./summary.js";
import { renderProjectorControl } from "./projector-control.js";
import { renderTicketsPanel, resetTicketsPanel } from "./tickets-panel.js";
import { followThroughView, followThroughEditor } from "./follow-through.js";

storedTheme();
mountLanguageSwitch($("#lang"));
translate();

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token");
const badge = connectionBadge($("#conn"));
let client = null;
let displayToken = params.get("display");
const labels = new Map(); // request id -> what it did, for the log

function log(text, kind = "") {
  const el = $("#log");
  el.dataset.kind = kind;
  el.textContent = text;
}

/** Send a command; `what` is how the log says it was done (in words, never the command's name). */
function send(type, fields = {}, what = t("console.cmd.other")) {
  if (!client) return;
  const id = client.send(type, fields);
  labels.set(id, { what, type, fields });
  return id;
}

/** The log's words for a command, from its kind and what it acted on. */
function said(type, vars = {}) {
  return t(`console.cmd.${type}`, vars);
}

// Whether a hidden poll's results were revealed comes from the server
// (`poll.revealed`, moderators only): every console device of the forum
// knows, whichever device revealed them.
const isRevealed = (poll) => !!poll.revealed;

// Ideas in the order they came, or by support (most supported first): the
// moderator's choice, kept across reloads.
let ideasBySupport = storage.read("madang.console.ideas_by_support") === true;
const supportTotal = (idea) => (idea.supports?.remote || 0) + (idea.supports?.hall || 0);

/** On 127.0.0.1 or localhost the join links shown here point to this computer: phones cannot open them. */
function renderLanWarning() {
  const host = location.hostname;
  const local = host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
  const el = $("#lan-warning");
  el.hidden = !local;
  if (local) replace(el, h("span", { "aria-hidden": "true" }, "⚠ "), t("console.lan_warning", { host: location.host }));
}

function copyButton(text) {
  const button = h("button.small.secondary", { type: "button" }, t("console.copy"));
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = h("textarea", { "aria-hidden": "true" }, text);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = t("console.copied");
    setTimeout(() => (button.textContent = t("console.copy")), 1500);
  });
  return button;
}

function renderLinks() {
  const codes = client?.welcome?.join_codes;
  if (!codes) return;
  const forumId = client.welcome.forum_id;
  const recordPage = $("#record-page");
  recordPage.href = `/forums/${encodeURIComponent(forumId)}/record`;
  recordPage.hidden = false;
  if (!displayToken) displayToken = storage.read(`madang.display_token.${forumId}`);
  else storage.write(`madang.display_token.${forumId}`, displayToken);
  const entry = (labelKey, url, code, id) => [
    h("dt", t(labelKey)),
    h(
      "dd",
      code ? h("img", { src: `/api/qr.svg?code=${encodeURIComponent(code)}`, alt: t("display.qr_alt", { link: url }), width: 112, height: 112 }) : null,
      h("code", { id }, url),
      copyButton(url),
      h("a.button.small.secondary", { href: url, target: "_blank", rel: "noopener" }, t("console.open")),
    ),
  ];
  replace(
    $("#links"),
    entry("console.link.remote", `${location.origin}/j/${codes.remote}`, codes.remote, "link-remote"),
    entry("console.link.hall", `${location.origin}/j/${codes.hall}`, codes.hall, "link-hall"),
    displayToken
      ? entry("console.link.display", `${location.origin}/display#token=${encodeURIComponent(displayToken)}`, null, "link-display")
      : [h("dt", t("console.link.display")), h("dd.muted", t("console.link.display_missing"))],
  );
}

function itemRow(item, index, agenda) {
  const s = client.state;
  const live = s.forum.status === "live";
  const pending = item.state === "pending";
  const running = item.timer?.running;
  const b = (key, label, onclick, opts = {}) => h(`button.small${opts.cls || ""}`, { type: "button", "data-key": key, disabled: opts.disabled, onclick }, label);
  return h(
    `li.console-item.state-${item.state}`,
    { "aria-current": item.state === "active" ? "step" : null, "data-item": item.id },
    h("strong", `${index + 1}. ${item.title}`),
    " ",
    h("span.agenda-state", t(item.state === "active" ? "agenda.current" : `agenda.${item.state}`)),
    item.timebox_secs ? h("span.muted", ` · ${Math.round(item.timebox_secs / 60)}′`) : null,
    item.description ? h("p.agenda-desc", item.description) : null,
    item.state === "active" ? timerBlock(item) : null,
    h(
      "div.actions",
      item.state !== "active" ? b(`act-${item.id}`, t("console.activate"), () => send("activate_item", { item: item.id }, `${t("console.activate")}: ${item.title}`), { disabled: !live || item.state === "done" }) : null,
      item.state === "active" ? b(`done-${item.id}`, t("console.complete"), () => send("complete_item", { item: item.id }, said("complete_item", { title: item.title })), { cls: ".secondary" }) : null,
      item.state === "active"
        ? running
          ? b(`pause-${item.id}`, t("console.timer_pause"), () => send("pause_timer", { item: item.id }, said("pause_timer", { title: item.title })), { cls: ".secondary" })
          : b(`start-${item.id}`, t("console.timer_start"), () => send("start_timer", { item: item.id }, said("start_timer", { title: item.title })), { cls: ".secondary", disabled: !item.timebox_secs && !item.timer })
        : null,
      // extend_timer gives an item without a time box a paused timer, which can then start.
      item.state === "active" ? b(`ext-${item.id}`, t("console.timer_extend"), () => giveTime(item, 60), { cls: ".secondary" }) : null,
      pending ? b(`up-${item.id}`, t("console.move_up"), () => send("move_item", { item: item.id, position: index - 1 }, said("move_item", { title: item.title })), { cls: ".secondary", disabled: index === 0 }) : null,
      pending ? b(`down-${item.id}`, t("console.move_down"), () => send("move_item", { item: item.id, position: index + 1 }, said("move_item", { title: item.title })), { cls: ".secondary", disabled: index === agenda.length - 1 }) : null,
      pending ? b(`rm-${item.id}`, t("console.remove"), () => send("remove_item", { item: item.id }, said("remove_item", { title: item.title })), { cls: ".danger" }) : null,
      pending && !editing.has(item.id)
        ? h("button.small.secondary", { type: "button", "data-key": `edit-${item.id}`, "aria-label": t("console.edit_item", { title: item.title }), onclick: () => startEdit(item) }, t("console.edit"))
        : null,
    ),
    item.state === "active" ? giveTimeForm(item) : null,
    pending && editing.has(item.id) ? editForm(item) : null,
  );
}

function giveTime(item, secs) {
  send("extend_timer", { item: item.id, secs }, said("extend_timer", { title: item.title, time: clockText(secs * 1000) }));
}

const giveForms = new Map(); // item id -> form, kept between renders so typing is not interrupted

/** Minutes to give the active item: its timer can then start, with or without a time box. */
function giveTimeForm(item) {
  const kept = giveForms.get(item.id);
  if (kept && kept.dataset.lang === document.documentElement.lang) return kept;
  const id = item.id;
  const input = h("input", { type: "number", id: `give-${id}`, "data-key": `give-${id}`, min: 0.1, max: 1440, step: "any", inputmode: "decimal" });
  const form = h(
    "form.give-time.row",
    { "data-lang": document.documentElement.lang },
    h("div.field", h("label", { for: `give-${id}` }, t("console.give_time")), input),
    h("button.small.secondary", { type: "submit", "data-key": `give-set-${id}` }, t("console.give_time_set")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const minutes = Number(input.value);
    if (!(minutes > 0)) return;
    giveTime(client.state.item(id) || item, Math.min(86400, Math.max(1, Math.round(minutes * 60))));
    input.value = "";
  });
  giveForms.set(id, form);
  return form;
}

// Editing a pending item: the form is kept between renders (typing is never interrupted).
const editing = new Map(); // item id -> form element

function startEdit(item) {
  editing.delete(item.id);
  editing.set(item.id, null);
  render();
  document.getElementById(`edit-title-${item.id}`)?.focus();
}

function editForm(item) {
  const kept = editing.get(item.id);
  if (kept) return kept;
  const id = item.id;
  const close = (focus = true) => {
    editing.delete(id);
    render();
    if (focus) document.querySelector(`[data-key="edit-${id}"]`)?.focus();
  };
  const form = h(
    "form.edit-item",
    { "data-edit": id, "aria-label": t("console.edit_item", { title: item.title }) },
    h("div.field", h("label", { for: `edit-title-${id}` }, t("console.item_title")), h("input", { type: "text", id: `edit-title-${id}`, "data-key": `edit-title-${id}`, required: true, maxlength: 200, value: item.title })),
    h("div.field", h("label", { for: `edit-desc-${id}` }, t("console.item_desc")), h("input", { type: "text", id: `edit-desc-${id}`, "data-key": `edit-desc-${id}`, maxlength: 2000, value: item.description || "" })),
    h(
      "div.field",
      h("label", { for: `edit-min-${id}` }, t("console.item_minutes")),
      h("input", { type: "number", id: `edit-min-${id}`, "data-key": `edit-min-${id}`, min: 1, max: 1440, step: "any", value: item.timebox_secs ? String(Math.round((item.timebox_secs / 60) * 100) / 100) : "" }),
    ),
    h(
      "div.row",
      h("button.small", { type: "submit", "data-key": `edit-save-${id}` }, t("console.save")),
      h("button.small.secondary", { type: "button", "data-key": `edit-cancel-${id}`, onclick: () => close() }, t("console.cancel")),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const current = client.state.item(id) || item;
    const fields = { item: id };
    const title = form.querySelector(`#edit-title-${id}`).value.trim();
    const desc = form.querySelector(`#edit-desc-${id}`).value.trim();
    const minutes = Number(form.querySelector(`#edit-min-${id}`).value);
    if (title && title !== current.title) fields.title = title;
    if (desc && desc !== (current.description || "")) fields.description = desc;
    if (minutes > 0 && Math.round(minutes * 60) !== current.timebox_secs) fields.timebox_secs = Math.round(minutes * 60);
    if (Object.keys(fields).length > 1) send("edit_item", fields, `${t("console.item_edited")}: ${title || current.title}`);
    close();
  });
  editing.set(id, form);
  return form;
}

const MERGE_DELAY_MS = 5000;
const pendingMerges = new Map(); // idea id -> { into, timer }
const mergeChoice = new Map(); // idea id -> the target picked in its select (kept across renders)

function queueMerge(idea, into) {
  const timer = setTimeout(() => {
    pendingMerges.delete(idea.id);
    send("merge_idea", { idea: idea.id, into }, said("merge_idea", { id: idea.id, into }));
    render();
  }, MERGE_DELAY_MS);
  pendingMerges.set(idea.id, { into, timer });
  mergeChoice.delete(idea.id);
  render();
  document.querySelector(`[data-key="undo-merge-${idea.id}"]`)?.focus();
}

function undoMerge(id) {
  const queued = pendingMerges.get(id);
  if (!queued) return;
  clearTimeout(queued.timer);
  pendingMerges.delete(id);
  log(t("console.merge_undone", { id }));
  render();
}

/** The current item's ideas, in the order they came or by support (the toggle). */
function renderIdeas(s) {
  const current = [...s.ideas.values()].filter((i) => i.item === s.activeItem && i.status !== "pending");
  if (ideasBySupport) current.sort((a, b) => supportTotal(b) - supportTotal(a) || a.id - b.id);
  const toggle = h(
    "button.small.secondary#ideas-order",
    {
      type: "button",
      "aria-pressed": String(ideasBySupport),
      onclick: () => {
        ideasBySupport = !ideasBySupport;
        storage.write("madang.console.ideas_by_support", ideasBySupport);
        renderIdeas(client.state);
        document.getElementById("ideas-order")?.focus();
      },
    },
    t("console.ideas_by_support"),
  );
  replace($("#ideas"), current.length ? [toggle, h("ul.ideas", current.map((i) => ideaRow(i, s)))] : h("p.muted", t("ideas.empty")));
}

function ideaRow(idea, s) {
  const status = idea.status === "merged" ? t("console.idea_status.merged", { into: idea.merged_into }) : t(`console.idea_status.${idea.status}`);
  const targets = [...s.ideas.values()].filter((o) => o.item === idea.item && o.id !== idea.id && o.status === "approved");
  const chosen = mergeChoice.get(idea.id);
  const mergeButton = h("button.small.secondary", { type: "button", "data-key": `mg-${idea.id}`, disabled: !targets.some((o) => o.id === chosen) }, t("console.merge_do"));
  const select = h(
    "select",
    {
      "aria-label": t("console.merge_into", { id: idea.id }),
      "data-key": `msel-${idea.id}`,
      onchange: (e) => {
        if (e.target.value) mergeChoice.set(idea.id, Number(e.target.value));
        else mergeChoice.delete(idea.id);
        mergeButton.disabled = !e.target.value;
      },
    },
    h("option", { value: "", selected: !chosen }, t("console.merge_choose")),
    targets.map((o) => h("option", { value: o.id, selected: o.id === chosen }, `#${o.id} ${o.text.slice(0, 40)}`)),
  );
  mergeButton.addEventListener("click", () => select.value && queueMerge(idea, Number(select.value)));
  const queued = pendingMerges.get(idea.id);
  return h(
    "li",
    { "data-idea": idea.id },
    h("span", `#${idea.id} `, idea.text),
    h("div.idea-meta", status, idea.author ? ` · ${idea.author}` : "", idea.supports ? h("span.support-count", { "data-support": idea.id }, ` · ${t("ideas.supports", { n: supportTotal(idea), remote: idea.supports.remote, hall: idea.supports.hall })}`) : "", idea.channel ? h("span.badge", t(`ideas.${idea.channel}`)) : h("span.badge", t("ideas.moderator"))),
    h(
      "div.idea-actions",
      queued
        ? h(
            "span.merge-pending",
            { role: "status" },
            t("console.merge_pending", { id: idea.id, into: queued.into, secs: Math.round(MERGE_DELAY_MS / 1000) }),
            " ",
            h("button.small", { type: "button", "data-key": `undo-merge-${idea.id}`, "aria-label": t("console.merge_undo_of", { id: idea.id }), onclick: () => undoMerge(idea.id) }, t("console.merge_undo")),
          )
        : [
            idea.status !== "approved" && idea.status !== "merged" ? h("button.small", { type: "button", "data-key": `ap-${idea.id}`, onclick: () => send("approve_idea", { idea: idea.id }, said("approve_idea", { id: idea.id })) }, t("console.approve")) : null,
            idea.status !== "hidden" && idea.status !== "merged" ? h("button.small.danger", { type: "button", "data-key": `hd-${idea.id}`, onclick: () => send("hide_idea", { idea: idea.id }, said("hide_idea", { id: idea.id })) }, t("console.hide")) : null,
            idea.status !== "merged" && targets.length ? [select, mergeButton] : null,
          ],
    ),
  );
}

function revealPoll(poll) {
  send("reveal_results", { poll: poll.id }, said("reveal_results", { id: poll.id }));
}

/** Hidden results are marked as hidden until revealed, in every status, closed included. */
function resultsBadge(poll) {
  if (poll.results !== "hidden") return null;
  return isRevealed(poll) ? h("span.badge.results-public", t("console.results.public_badge")) : h("span.badge.results-hidden", t("console.results.hidden_badge"));
}

const openedClosed = new Set(); // closed polls the moderator unfolded

function pollRow(poll, s) {
  const tally = s.tallyOf(poll.id);
  const b = (key, label, onclick, cls = "") => h(`button.small${cls}`, { type: "button", "data-key": key, onclick }, label);
  const heading = [`#${poll.id} ${poll.title} `, h("span.badge", t(`method.${poll.method.kind}`)), h("span.badge", t(`poll.${poll.status}`)), resultsBadge(poll), poll.ballots === "named" ? h("span.badge.named", t("named.badge")) : null];
  const body = [
    h(
      "div.poll-actions",
      poll.status === "draft" ? b(`open-${poll.id}`, t("console.poll_open"), () => send("open_poll", { poll: poll.id }, said("open_poll", { id: poll.id }))) : null,
      poll.status === "open" ? b(`close-${poll.id}`, t("console.poll_close"), () => send("close_poll", { poll: poll.id }, said("close_poll", { id: poll.id })), ".secondary") : null,
      poll.results === "hidden" && poll.status !== "draft" && !isRevealed(poll) ? b(`reveal-${poll.id}`, t("console.poll_reveal"), () => revealPoll(poll), ".secondary") : null,
    ),
    poll.status !== "draft" ? h("div", { id: `tally-${poll.id}` }, renderTally(poll, tally)) : h("p.muted", poll.options.map((o) => o.label).join(" · ")),
    // Pairs cannot be counted by hand: a pairwise poll takes no hall count (SPEC §7.3).
    poll.status !== "draft" && poll.method.kind !== "pairwise" ? hallLines(poll, s) : null,
    poll.status === "open" && poll.method.kind !== "pairwise" ? hallCountForm(poll, { send }) : null,
    poll.status === "closed" ? followThroughView(poll) : null,
    poll.status === "closed" ? followThroughEditor(poll, send) : null,
  ];
  if (poll.status !== "closed") return h("article.card.poll-card", { "data-poll": poll.id }, h("h3", heading), body);
  // A closed poll folds to one line with its outcome, so that a long forum's polls do not push the live ones away.
  const details = h(
    "details.card.poll-card.poll-closed",
    { "data-poll": poll.id, open: openedClosed.has(poll.id) },
    h("summary", h("h3", heading), h("span.poll-outcome", outcomeWords(poll, tally))),
    body,
  );
  details.addEventListener("toggle", () => (details.open ? openedClosed.add(poll.id) : openedClosed.delete(poll.id)));
  return details;
}


/** What hand count is in force for a poll, and its line of the hall check. */
function hallLines(poll, s) {
  const check = s.hallCheck?.polls?.find((p) => p.poll === poll.id);
  const headcount = s.hallCheck?.headcount;
  return h(
    "div.hall-lines",
    { id: `hall-lines-${poll.id}` },
    h("p.hall-in-force", poll.hall_count ? t("console.hall.in_force", { n: formatNumber(hallCountPeople(poll.hall_count)) }) : t("console.hall.none_yet")),
    check && headcount !== undefined && headcount !== null
      ? h(
          `p${check.exceeds ? ".hall-warning" : ".muted"}`,
          { "data-exceeds": String(!!check.exceeds) },
          check.exceeds ? h("span", { "aria-hidden": "true" }, "⚠ ") : null,
          check.exceeds
            ? t("console.check.exceeds", { poll: poll.id, total: formatNumber(check.total), headcount: formatNumber(headcount) })
            : t("console.check.row", { poll: poll.id, title: poll.title, devices: formatNumber(check.hall_ballots), hand: formatNumber(check.hand_counted), total: formatNumber(check.total), headcount: formatNumber(headcount) }),
        )
      : null,
  );
}

let hallCheckKey = "";

/** The headcount and the hall check (re-rendered only when it changes, so the warning is announced once). */
function renderHallCheck() {
  const s = client.state;
  const hc = s.hallCheck;
  const key = JSON.stringify([hc, [...s.polls.values()].map((p) => [p.id, p.title]), document.documentElement.lang]);
  if (key === hallCheckKey) return;
  hallCheckKey = key;
  const input = $("#headcount");
  if (hc?.headcount !== undefined && document.activeElement !== input) input.value = hc.headcount;
  const title = (id) => s.polls.get(id)?.title || "";
  const over = hc?.polls?.filter((p) => p.exceeds) || [];
  replace(
    $("#hall-check"),
    h("p", hc?.headcount !== undefined ? t("console.check.current", { n: formatNumber(hc.headcount) }) : t("console.check.none")),
    h("p.muted", t("console.check.devices", { n: formatNumber(hc?.hall_devices ?? s.participants.hall) })),
    hc?.hall_tickets_used !== undefined ? h("p.muted", t("console.check.tickets", { n: formatNumber(hc.hall_tickets_used) })) : null,
    hc?.headcount !== undefined && hc.polls?.length
      ? h(
          "ul.hall-check-list",
          hc.polls.map((p) =>
            h(
              `li${p.exceeds ? ".exceeds" : ""}`,
              { "data-check-poll": p.poll },
              t("console.check.row", { poll: p.poll, title: title(p.poll), devices: formatNumber(p.hall_ballots), hand: formatNumber(p.hand_counted), total: formatNumber(p.total), headcount: formatNumber(hc.headcount) }),
            ),
          ),
        )
      : null,
  );
  replace(
    $("#hall-alert"),
    over.length
      ? over.map((p) => h("p.hall-warning", h("span", { "aria-hidden": "true" }, "⚠ "), t("console.check.exceeds", { poll: p.poll, total: formatNumber(p.total), headcount: formatNumber(hc.headcount) })))
      : hc?.headcount !== undefined && hc.polls?.length
        ? h("p.muted", t("console.check.ok"))
        : null,
  );
}

$("#headcount-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("#headcount").value.trim();
  if (value === "") return;
  send("set_hall_headcount", { count: Number(value) }, t("console.check.set"));
});

let builderItems = "";
let builderTouched = false;
// Once the moderator opens, closes or uses the builder, it stays as they left it.
$("#poll-builder-box > summary").addEventListener("click", () => (builderTouched = true));
$("#poll-builder").addEventListener("submit", () => (builderTouched = true));

function render() {
  const s = client.state;
  if (!s.forum) return;
  setForumLanguage(s.forum.language);
  $("#forum-title").textContent = s.forum.title;
  // "Moderator console: <title>", with no dangling colon before a forum is known.
  $("#forum-title-sep").hidden = !s.forum.title;
  document.title = `${t("console.title")}: ${s.forum.title}`;
  $("#forum-status").textContent = t(`status.${s.forum.status}`);
  $("#counts").textContent = `${t("console.participants")}: ${t("participants.count", { hall: s.participants.hall, remote: s.participants.remote })}`;
  $("#start-forum").disabled = s.forum.status !== "draft";
  $("#close-forum").disabled = s.forum.status !== "live";
  $("#premod").checked = !!s.forum.premoderation;
  $("#premod").disabled = s.forum.status === "closed";
  replace($("#agenda"), s.agenda.map((item, i) => itemRow(item, i, s.agenda)));
  const pending = [...s.ideas.values()].filter((i) => i.status === "pending");
  replace($("#queue"), pending.length ? h("ul.ideas", pending.map((i) => ideaRow(i, s))) : h("p.muted", t("console.queue_empty")));
  renderIdeas(s);
  const polls = [...s.polls.values()].sort((a, b) => b.id - a.id);
  replace($("#polls"), polls.length ? polls.map((p) => pollRow(p, s)) : h("p.muted", t("console.no_polls")));
  // Open while there is no poll yet; folded above the list once there are, unless the moderator opened or closed it.
  if (!builderTouched) $("#poll-builder-box").open = !polls.length;
  $("#summary-open").hidden = !polls.some((p) => p.status === "closed");
  if (!$("#summary").hidden) showSummary();
  const itemsKey = JSON.stringify(s.agenda.map((i) => [i.id, i.title])) + s.activeItem;
  if (itemsKey !== builderItems) {
    builderItems = itemsKey;
    const select = $("#poll-item");
    replace(select, s.agenda.map((i) => h("option", { value: i.id, selected: i.id === s.activeItem }, i.title)));
  }
  renderLinks();
  renderSpeakers();
  renderHallCheck();
  renderProjectorControl($("#projector-control"), s, send);
  renderTicketsPanel($("#tickets-panel"), s, send, token);
}

function renderSpeakers() {
  const s = client.state;
  $("#speakers-section").hidden = !s.speakers;
  if (!s.speakers) return;
  const q = s.speakers;
  replace(
    $("#speakers"),
    q.current
      ? h(
          "p.floor",
          t("hand.current", { name: speakerName(q.current.speaker) }),
          q.current.deadline_ms ? [" · ", t("console.speech_left"), h("strong#speech-clock.timer-value", { role: "timer" })] : null,
        )
      : null,
    q.waiting.length
      ? h(
          "ol.speakers-list",
          q.waiting.map((sp, i) => {
            const name = speakerName(sp);
            // move_speaker takes a place in the order of arrival; under fifo that is the calling order.
            const move = (to) => send("move_speaker", { speaker: sp.id, position: to }, t(to < i ? "console.speaker_up" : "console.speaker_down", { name }));
            return h(
              "li",
              { "data-speaker": sp.id },
              name,
              " ",
              h("span.badge", t(`ideas.${sp.channel}`)),
              sp.skipped ? h("span.badge", t("hand.skipped")) : null,
              h(
                "span.speaker-actions",
                h("button.small.secondary", { type: "button", "data-key": `upsp-${sp.id}`, "aria-label": t("console.speaker_up", { name }), disabled: i === 0, onclick: () => move(i - 1) }, "▲"),
                h("button.small.secondary", { type: "button", "data-key": `dnsp-${sp.id}`, "aria-label": t("console.speaker_down", { name }), disabled: i === q.waiting.length - 1, onclick: () => move(i + 1) }, "▼"),
                h("button.small.danger", { type: "button", "data-key": `rmsp-${sp.id}`, "aria-label": t("console.speaker_remove", { name }), onclick: () => send("remove_speaker", { speaker: sp.id }, said("remove_speaker", { name })) }, t("console.remove")),
              ),
            );
          }),
        )
      : h("p.muted", t("hand.none")),
  );
  const policy = $("#queue-policy");
  if (document.activeElement !== policy) policy.value = q.policy || "fifo";
  $("#limit-current").textContent = q.limit_secs ? t("console.limit_current", { time: formatClock(q.limit_secs * 1000) }) : t("console.limit_off");
  $("#limit-none").disabled = !q.limit_secs;
  $("#call-next").disabled = !q.waiting.length;
  $("#skip-speaker").disabled = !q.waiting.length;
  $("#end-speech").disabled = !q.current;
  replace($("#temperature"), renderTemperature(s) || h("p.muted", "—"));
  tickSpeech();
}

/** The current speech's time left, or how far over it is. */
function tickSpeech() {
  const el = document.getElementById("speech-clock");
  const deadline = client?.state.speakers?.current?.deadline_ms;
  if (!el || typeof deadline !== "number") return;
  const left = deadline - client.serverNow();
  const text = clockText(left);
  if (el.textContent !== text) el.textContent = text;
  el.classList.toggle("up", left < 0);
}
setInterval(tickSpeech, 250);

$("#queue-policy").addEventListener("change", (e) => send("set_queue_policy", { policy: e.target.value }, `${t("console.queue_policy")}: ${t(`policy.${e.target.value}`)}`));
$("#limit-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const minutes = Number($("#speaking-limit").value);
  if (!(minutes > 0)) return;
  send("set_speaking_limit", { secs: Math.round(minutes * 60) }, t("console.limit_set"));
});
$("#limit-none").addEventListener("click", () => send("set_speaking_limit", {}, t("console.limit_none")));
$("#call-next").addEventListener("click", () => send("call_next", {}, t("console.call_next")));
$("#skip-speaker").addEventListener("click", () => send("skip_speaker", {}, t("console.skip")));
$("#end-speech").addEventListener("click", () => send("end_speech", {}, t("console.end_speech")));
$("#add-speaker").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("#speaker-name").value.trim();
  if (!name) return;
  send("add_speaker", { name }, t("console.add_speaker"));
  $("#speaker-name").value = "";
});

function onTally(tally) {
  const el = document.getElementById(`tally-${tally.poll}`);
  const poll = client.state.polls.get(tally.poll);
  if (el && poll) replace(el, renderTally(poll, tally));
}

// Forms

$("#start-forum").addEventListener("click", () => send("start_forum", {}, t("console.start")));
$("#close-forum").addEventListener("click", () => {
  if (confirm(t("console.confirm_close"))) send("close_forum", {}, t("console.close"));
});
$("#premod").addEventListener("change", (e) => send("set_premoderation", { enabled: e.target.checked }, t("console.premod")));

$("#add-item").addEventListener("submit", (e) => {
  e.preventDefault();
  const title = $("#item-title").value.trim();
  if (!title) return;
  const fields = { title };
  const desc = $("#item-desc").value.trim();
  if (desc) fields.description = desc;
  const minutes = Number($("#item-minutes").value);
  if (minutes > 0) fields.timebox_secs = Math.round(minutes * 60);
  send("add_item", fields, `${t("console.add_item")}: ${title}`);
  e.target.reset();
  $("#item-title").focus();
});

$("#add-idea").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("#idea-text").value.trim();
  if (!text) return;
  send("submit_idea", { text }, t("console.add_idea"));
  $("#idea-text").value = "";
});

function syncBuilder() {
  const method = $("#poll-method").value;
  for (const el of document.querySelectorAll("#poll-builder [data-for]")) el.hidden = el.dataset.for !== method;
  for (const el of document.querySelectorAll("#poll-builder [data-not-for]")) el.hidden = el.dataset.notFor === method;
  const fixed = document.querySelector('input[name="poll-source"]:checked')?.value === "fixed";
  $("#poll-labels").closest(".field").hidden = !fixed;
}
$("#poll-method").addEventListener("change", syncBuilder);
for (const r of document.querySelectorAll('input[name="poll-source"]')) r.addEventListener("change", syncBuilder);
syncBuilder();

$("#poll-builder").addEventListener("submit", (e) => {
  e.preventDefault();
  const kind = $("#poll-method").value;
  const num = (sel) => Math.max(1, Math.floor(Number($(sel).value) || 1));
  let method;
  if (kind === "yes_no") method = { kind, rule: $("#poll-rule").value };
  else if (kind === "approval") method = { kind, max_choices: num("#poll-max-choices") };
  else if (kind === "dots") method = { kind, budget: num("#poll-budget"), max_per_option: num("#poll-cap") };
  else if (kind === "score" || kind === "single_choice" || kind === "pairwise") method = { kind };
  else {
    method = { kind: "ranked", tally: $("#poll-tally").value || "borda" };
    if ($("#poll-max-ranks").value) method.max_ranks = num("#poll-max-ranks");
  }
  let options;
  if (kind === "yes_no") options = { from: "none" };
  else if (document.querySelector('input[name="poll-source"]:checked').value === "fixed") {
    options = { from: "fixed", labels: $("#poll-labels").value.split("\n").map((s) => s.trim()).filter(Boolean) };
  } else options = { from: "ideas" };
  const title = $("#poll-title").value.trim();
  const fields = { title, method, options, results: $("#poll-results").value, ...($("#poll-named").checked ? { ballots: "named" } : {}) };
  if ($("#poll-item").value) fields.item = Number($("#poll-item").value);
  send("create_poll", fields, `${t("console.poll_create")}: ${title}`);
  $("#poll-title").value = "";
});

// The one-page summary of outcomes: shown in place of the console (and alone on paper).

function showSummary() {
  const el = $("#summary");
  replace(
    el,
    renderSummary(client.state, {
      now: client.serverNow(),
      onPrint: () => window.print(),
      onClose: hideSummary,
    }),
  );
  if (el.hidden) {
    el.hidden = false;
    $("#main").hidden = true;
    $("#summary-h").focus();
  }
}

function hideSummary() {
  $("#summary").hidden = true;
  $("#main").hidden = false;
  $("#summary-open").focus();
}

$("#summary-open").addEventListener("click", () => client?.state.forum && showSummary());

// Export

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

function outcomeDocument() {
  const s = client.state;
  return {
    forum: s.forum,
    exported_at_ms: client.serverNow(),
    seq: s.seq,
    agenda: s.agenda,
    ideas: [...s.ideas.values()],
    polls: [...s.polls.values()].map((p) => ({ ...p, tally: s.tallyOf(p.id) || undefined })),
    participants: s.participants,
  };
}

$("#export-json").addEventListener("click", () => client && download(`madang-${client.welcome?.forum_id}-outcome.json`, "application/json", JSON.stringify(outcomeDocument(), null, 2)));
$("#export-csv").addEventListener("click", () => client && download(`madang-${client.welcome?.forum_id}-outcome.csv`, "text/csv", "\ufeff" + outcomeCsv(client.state)));

// Keyboard shortcuts (single keys, off while typing; can be turned off: WCAG 2.1.4)

function activeItem() {
  return client?.state.item(client.state.activeItem);
}

document.addEventListener("keydown", (e) => {
  if (!client || !$("#shortcuts-on").checked || e.ctrlKey || e.metaKey || e.altKey) return;
  const target = e.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  const s = client.state;
  const item = activeItem();
  const pendingIdeas = [...s.ideas.values()].filter((i) => i.status === "pending");
  const polls = [...s.polls.values()].sort((a, b) => b.id - a.id);
  let handled = true;
  switch (e.key) {
    case "n": {
      const index = s.agenda.findIndex((i) => i.id === s.activeItem);
      const next = s.agenda.slice(index + 1).find((i) => i.state === "pending") || s.agenda.find((i) => i.state === "pending");
      if (next) send("activate_item", { item: next.id }, `${t("console.activate")}: ${next.title}`);
      break;
    }
    case "s":
      if (item) send(item.timer?.running ? "pause_timer" : "start_timer", { item: item.id }, said(item.timer?.running ? "pause_timer" : "start_timer", { title: item.title }));
      break;
    case "+":
      if (item) giveTime(item, 60);
      break;
    case "a":
      if (pendingIdeas[0]) send("approve_idea", { idea: pendingIdeas[0].id }, said("approve_idea", { id: pendingIdeas[0].id }));
      break;
    case "h":
      if (pendingIdeas[0]) send("hide_idea", { idea: pendingIdeas[0].id }, said("hide_idea", { id: pendingIdeas[0].id }));
      break;
    case "o": {
      const draft = polls.find((p) => p.status === "draft");
      if (draft) send("open_poll", { poll: draft.id }, said("open_poll", { id: draft.id }));
      break;
    }
    case "c": {
      const open = polls.find((p) => p.status === "open");
      if (open) send("close_poll", { poll: open.id }, said("close_poll", { id: open.id }));
      break;
    }
    case "r": {
      // The newest opened poll whose results are still hidden from the public.
      const hidden = polls.find((p) => p.results === "hidden" && !isRevealed(p) && p.status !== "draft");
      if (hidden) revealPoll(hidden);
      break;
    }
    case "k":
      if (s.speakers?.waiting.length) send("call_next", {}, t("console.call_next"));
      break;
    case "?":
      $("#shortcuts-box").open = true;
      $("#shortcuts-h").focus();
      break;
    default:
      handled = false;
  }
  if (handled) e.preventDefault();
});

try {
  const off = localStorage.getItem("madang.shortcuts") === "off";
  $("#shortcuts-on").checked = !off;
} catch {}
$("#shortcuts-on").addEventListener("change", (e) => {
  try {
    localStorage.setItem("madang.shortcuts", e.target.checked ? "on" : "off");
  } catch {}
});

// Connection

if (!token) {
  $("#no-token").hidden = false;
  $("#main").hidden = true;
  $("#conn").hidden = true;
} else {
  // Kept per moderator token (a short hash of it: the token itself stays out of key names).
  let hash = 2166136261;
  for (const c of token) hash = Math.imul(hash ^ c.charCodeAt(0), 16777619) >>> 0;
  client = new Client({
    persistKey: `madang.m.${hash.toString(36)}`,
    idPrefix: "m",
    auth: () => ({ token }),
    on: {
      status: (status, detail) => badge.set(status, detail),
      change: render,
      tally: onTally,
      temperature: () => client.state.forum && renderSpeakers(),
      supports: () => client.state.forum && renderIdeas(client.state),
      ack: (frame) => {
        reportHallCount(frame);
        const sent = labels.get(frame.id);
        labels.delete(frame.id);
        if (sent) log(t("console.done", { what: sent.what }));
      },
      error: (frame) => {
        reportHallCount(frame);
        const sent = labels.get(frame.id);
        labels.delete(frame.id);
        // Revealing twice is refused as invalid_state: the results are public already.
        if (sent?.type === "reveal_results" && frame.code === "invalid_state") {
          markRevealed(sent.fields.poll);
          render();
        }
        log(t("console.failed", { message: errorText(frame) }), "error");
      },
      refused: (error) => {
        client.forget();
        log(t("console.failed", { message: errorText(error) }), "error");
      },
    },
  });
  renderLanWarning();
  client.restore();
  if (client.state.forum) render();
  client.start();
  startCountdowns(client);
}

onLanguageChange(() => {
  badge.render();
  if (client) renderLanWarning();
  builderItems = "";
  hallCheckKey = "";
  resetTicketsPanel();
  for (const id of editing.keys()) editing.set(id, null);
  if (client?.state.forum) render();
});

window.madang = { get client() { return client; } };
