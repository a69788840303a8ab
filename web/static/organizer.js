// The organizer landing page: create a forum with the admin token (taken from
// the organizer URL's fragment, which browsers never send to the server), then
// open the moderator console.

import { storage } from "./client.js";
import { t, translate, mountLanguageSwitch, onLanguageChange, lang } from "./i18n.js";
import { h, $, replace, storedTheme } from "./ui.js";

storedTheme();
mountLanguageSwitch($("#lang"));
translate();

const fromHash = new URLSearchParams(location.hash.slice(1)).get("admin_token");
if (fromHash) {
  $("#token").value = fromHash;
  storage.write("madang.admin_token_hint", null);
}
$("#language").value = lang();

export function consoleLink(f) {
  const p = new URLSearchParams({ token: f.moderator_token });
  if (f.display_token) p.set("display", f.display_token);
  return `/console#${p}`;
}

/**
 * The agenda from the text area: one item per line, with an optional time box
 * in minutes after a bar ("Opening | 10"). A line whose text after the last bar
 * is not a number of minutes is all title.
 */
export function agendaOf(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const m = line.match(/^(.*\S)\s*\|\s*(\d+(?:[.,]\d+)?)\s*(?:분|min|m)?$/i);
      const minutes = m ? Number(m[2].replace(",", ".")) : 0;
      return m && minutes > 0 ? { title: m[1], timebox_secs: Math.round(minutes * 60) } : { title: line };
    });
}

function renderYours() {
  const forums = storage.read("madang.forums") || [];
  $("#yours").hidden = !forums.length;
  replace(
    $("#forums"),
    forums.map((f) =>
      h("li", h("strong", f.title), " ", h("a", { href: consoleLink(f) }, t("organizer.open_console")), " · ", h("a", { href: `/display#token=${encodeURIComponent(f.display_token)}` }, t("organizer.open_display"))),
    ),
  );
}

$("#create").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#result");
  out.dataset.kind = "";
  const agenda = agendaOf($("#agenda").value);
  const title = $("#title").value.trim();
  try {
    const res = await fetch("/api/forums", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + $("#token").value.trim() },
      body: JSON.stringify({ title, language: $("#language").value, agenda }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body?.error?.message || res.statusText);
    const forums = storage.read("madang.forums") || [];
    const entry = { ...body, title };
    forums.unshift(entry);
    storage.write("madang.forums", forums.slice(0, 20));
    storage.write(`madang.display_token.${body.id}`, body.display_token);
    out.textContent = t("organizer.created");
    location.href = consoleLink(entry);
  } catch (err) {
    out.dataset.kind = "error";
    out.textContent = t("organizer.failed", { message: err.message });
  }
});

onLanguageChange(renderYours);
renderYours();
