// Ticketed forums in a real browser: the console issues tickets and prints
// the A4 sheet (its QR codes decode to the join link with the ticket), a
// phone joins from a ticket's link, a second phone with the same ticket and
// one with the bare join code are refused in words, and revoking a ticket
// shows in the console's counts. Phone 390x844, console 1440x900, print A4.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { startServer, launchBrowser, createForum, wsActor, newPage, online, noModerateViolations, textSize, screenshot, PHONE } from "./harness.js";

const CONSOLE = { viewport: { width: 1440, height: 900 } };
const jsqrSource = readFileSync(createRequire(import.meta.url).resolve("jsqr/dist/jsQR.js"), "utf8");

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** Decode every QR image on the page with jsQR, from the pixels the browser drew. */
async function decodeQrImages(page, selector) {
  await page.evaluate(jsqrSource);
  return page.evaluate(async (sel) => {
    const out = [];
    for (const img of document.querySelectorAll(sel)) {
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 400;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, 400, 400);
      ctx.drawImage(img, 0, 0, 400, 400);
      // eslint-disable-next-line no-undef
      const found = jsQR(ctx.getImageData(0, 0, 400, 400).data, 400, 400);
      out.push(found ? found.data : null);
    }
    return out;
  }, selector);
}

test("an organizer issues and prints tickets; each admits one phone once, and a bare code admits no one", { timeout: 180000 }, async () => {
  const created = await createForum(server, { title: "주민참여예산 위원회", language: "ko", agenda: [{ title: "예산 심의" }], eligibility: "ticketed" });

  // The console: who may join is shown and fixed once started; tickets are issued from the panel.
  const console_ = await newPage(browser, CONSOLE, "console");
  await console_.goto(`${server.url}/console#token=${encodeURIComponent(created.moderator_token)}`);
  await online(console_);
  await console_.locator("#eligibility").waitFor();
  assert.equal(await console_.locator("#eligibility").inputValue(), "ticketed");
  await console_.locator("#ticket-channel").selectOption("hall");
  await console_.locator("#ticket-count").fill("10");
  await console_.locator("#issue-tickets button[type=submit]").click();
  await console_.locator(".ticket-counts").waitFor();
  await console_.locator("#ticket-channel").selectOption("remote");
  await console_.locator("#ticket-count").fill("3");
  await console_.locator("#issue-tickets button[type=submit]").click();
  await console_.waitForFunction(() => document.querySelector(".ticket-counts tbody tr:nth-child(2) td")?.textContent === "3");
  assert.equal(await console_.locator(".ticket-counts tbody tr:nth-child(1) td").first().textContent(), "10");
  await console_.locator("#tickets-section").scrollIntoViewIfNeeded();
  await screenshot(console_, "tickets-console-ko");
  await noModerateViolations(console_, "console with tickets");

  // The sheet: 13 cards on 2 A4 pages; each QR code decodes to the ticket's join link.
  const api = await fetch(`${server.url}/api/forums/${created.id}/tickets`, { headers: { authorization: `Bearer ${created.moderator_token}` } });
  const { tickets } = await api.json();
  assert.equal(tickets.length, 13);
  const sheet = await newPage(browser, CONSOLE, "sheet");
  await sheet.goto(`${server.url}/tickets#token=${encodeURIComponent(created.moderator_token)}&forum=${created.id}`);
  await sheet.locator(".ticket-card").nth(12).waitFor();
  assert.equal(await sheet.locator(".sheet-page").count(), 2);
  const codes = await sheet.locator(".ticket-code").allTextContents();
  assert.deepEqual(codes, tickets.map((x) => x.code));
  const decoded = await decodeQrImages(sheet, ".ticket-card img");
  const expected = tickets.map((x) => `${server.url}/j/${x.channel === "hall" ? created.join_codes.hall : created.join_codes.remote}?ticket=${x.code}`);
  assert.deepEqual(decoded, expected, "every card's QR code is its join link with its ticket");
  await screenshot(sheet, "tickets-sheet-ko");
  await noModerateViolations(sheet, "ticket sheet");
  // Printed on A4: exactly one sheet page per paper page, nothing outside a card.
  await sheet.emulateMedia({ media: "print" });
  const overflow = await sheet.evaluate(() =>
    [...document.querySelectorAll(".ticket-card > *")].filter((el) => {
      const card = el.closest(".ticket-card").getBoundingClientRect();
      const r = el.getBoundingClientRect();
      return r.right > card.right + 0.5 || r.bottom > card.bottom + 0.5 || el.scrollWidth > el.clientWidth + 1;
    }).length,
  );
  assert.equal(overflow, 0, "nothing on a card is cut off");
  const pdf = await sheet.pdf({ format: "A4", printBackground: true, preferCSSPageSize: true });
  const pages = (pdf.toString("latin1").match(/\/Type\s*\/Page[^s]/g) || []).length;
  assert.equal(pages, 2, "13 tickets print on 2 A4 pages");
  await sheet.emulateMedia({ media: "screen" });

  const moderator = await wsActor(server, browser, { token: created.moderator_token });
  await moderator.command({ type: "start_forum" });
  assert.equal(await console_.locator("#eligibility").isDisabled(), true);

  // A phone that scans ticket 1: the ticket is filled in and leaves the address bar; it joins.
  const first = await newPage(browser, PHONE, "phone 1");
  await first.goto(tickets[0].join_url);
  await first.locator("#join-ticket").waitFor({ state: "visible" });
  assert.equal(await first.locator("#join-ticket").inputValue(), tickets[0].code);
  assert.ok(!first.url().includes("ticket="), `the ticket left the address bar: ${first.url()}`);
  await screenshot(first, "tickets-join-ko");
  await noModerateViolations(first, "join page of a ticketed forum");
  await textSize(first, 200);
  await noModerateViolations(first, "join page of a ticketed forum at 200% text");
  await textSize(first, 100);
  await first.locator("#join-submit").click();
  await online(first);

  // Another phone with the same ticket is refused in words, and so is one with the bare code.
  const second = await newPage(browser, PHONE, "phone 2");
  await second.goto(tickets[0].join_url);
  await second.locator("#join-submit").click();
  await second.locator("#join-error").filter({ hasText: "이미 다른 기기에서 사용 중" }).waitFor();
  await screenshot(second, "tickets-used-ko");
  const bare = await newPage(browser, PHONE, "phone 3");
  await bare.goto(`${server.url}/j/${created.join_codes.hall}`);
  // The page says before joining that a ticket is needed, and will not send the bare code.
  await bare.locator("#join-forum").filter({ hasText: "참가권 소지자만" }).waitFor();
  assert.equal(await bare.locator("#join-ticket").isVisible(), true);
  await bare.locator("#join-submit").click();
  assert.equal(await bare.locator("#join-ticket").evaluate((el) => el.validity.valueMissing), true);
  // A mistyped ticket says so, in English too.
  await bare.locator("#lang").selectOption("en");
  await bare.locator("#join-ticket").fill("ABCD-EFGH-JKMN-PQRS");
  await bare.locator("#join-submit").click();
  await bare.locator("#join-error").filter({ hasText: "not valid for this forum" }).waitFor();
  await screenshot(bare, "tickets-wrong-en");

  // Revoking ticket 1 from the console: counts follow.
  console_.on("dialog", (d) => d.accept());
  await console_.locator("#revoke-number").fill("1");
  await console_.locator("#revoke-ticket button[type=submit]").click();
  await console_.waitForFunction(() => document.querySelector(".ticket-counts tbody tr:nth-child(1) td:nth-child(4)")?.textContent === "1");
  await console_.locator("#lang").selectOption("en");
  await console_.locator("#tickets-section").scrollIntoViewIfNeeded();
  await screenshot(console_, "tickets-console-en");
  await textSize(console_, 200);
  await noModerateViolations(console_, "console with tickets at 200% text");

  // Wrong tickets counted against the address are expected 4xx; nothing else failed.
  const unexpected = [console_, sheet, first].flatMap((p) => p.errors);
  assert.deepEqual(unexpected, []);
  await moderator.close();
});
