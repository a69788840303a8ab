// The ticket sheet: /tickets#token=<moderator token>&forum=<id>, opened from
// the console. A4 pages of 8 cards, each with the ticket's QR code (the join
// link with the ticket in it), its code to type, and its number (which the
// organizer revokes it by). Codes come from GET /api/forums/{id}/tickets.

import { t, translate, mountLanguageSwitch, setForumLanguage, onLanguageChange, errorText, formatNumber } from "./i18n.js";
import { h, $, replace } from "./ui.js";

mountLanguageSwitch($("#lang"));
translate();

const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token");
const forumId = params.get("forum");
const PER_PAGE = 8;
let tickets = [];
let title = "";

function showMessage(text) {
  $("#message").hidden = !text;
  $("#message").textContent = text || "";
}

function card(ticket) {
  const url = new URL(ticket.join_url);
  const joinCode = url.pathname.split("/").pop();
  const qr = `/api/qr.svg?code=${encodeURIComponent(joinCode)}&ticket=${encodeURIComponent(ticket.code)}`;
  return h(
    "article.ticket-card",
    { "aria-label": t("sheet.ticket", { n: ticket.ticket }) },
    h("p.ticket-head", h("span", title), h("span", `${t("sheet.ticket", { n: ticket.ticket })} · ${t(`tickets.channel.${ticket.channel}`)}`)),
    h("img", { src: qr, alt: t("display.qr_alt", { link: ticket.join_url }), width: 113, height: 113 }),
    h("div.ticket-how", h("p", t("sheet.scan")), h("p.ticket-url", `${url.host}/j/${joinCode}`)),
    h("p.ticket-code", ticket.code),
    h("p.ticket-keep", t("sheet.keep")),
  );
}

function render() {
  const shown = $("#filter").value === "all" ? tickets : tickets.filter((x) => x.status === "unused");
  const pages = [];
  for (let i = 0; i < shown.length; i += PER_PAGE) pages.push(h("section.sheet-page", shown.slice(i, i + PER_PAGE).map(card)));
  replace($("#sheets"), pages);
  $("#count").textContent = shown.length ? t("sheet.count", { n: formatNumber(shown.length), pages: formatNumber(pages.length) }) : t("sheet.empty");
  $("#print").disabled = !shown.length;
  $("#forum-title").textContent = title;
}

async function load() {
  if (!token || !forumId) {
    showMessage(t("sheet.no_token"));
    return;
  }
  try {
    const [list, view] = await Promise.all([
      fetch(`/api/forums/${encodeURIComponent(forumId)}/tickets`, { headers: { Authorization: `Bearer ${token}` } }),
      fetch(`/api/forums/${encodeURIComponent(forumId)}`),
    ]);
    const body = await list.json();
    if (!list.ok) {
      showMessage(t("sheet.failed", { message: errorText(body?.error) }));
      return;
    }
    if (view.ok) {
      const forum = (await view.json()).forum;
      title = forum.title;
      setForumLanguage(forum.language);
    }
    tickets = body.tickets;
    showMessage("");
    render();
  } catch {
    showMessage(t("sheet.failed", { message: errorText({ code: "unavailable" }) }));
  }
}

$("#filter").addEventListener("change", render);
$("#print").addEventListener("click", () => window.print());
onLanguageChange(() => {
  translate();
  render();
});
load();
