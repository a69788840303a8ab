//! Atom 1.0 feeds (RFC 4287) of closed polls' outcomes, per forum and for
//! the whole server, so that a city's website or a newsroom can subscribe.
//!
//! Built from public views only (what anyone may see), written with an XML
//! writer that escapes every text and attribute. Ids are `urn:uuid:` names
//! derived from the forum and poll (stable across hosts and restarts, as
//! RFC 4287 §4.2.6 wants); links point to the public record page.

use std::io::Cursor;

use madang_protocol::{
    ActionStatus, ActionUpdateView, ActionView, ForumView, MajorityRule, Outcome, PollView, ResponseKind, ResponseView,
    TallyResult,
};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use sha2::{Digest, Sha256};

/// At most this many entries in a feed (the latest outcomes).
pub(crate) const MAX_FEED_ENTRIES: usize = 50;

/// One closed poll of a forum, or one step of its follow-through, as a feed entry.
pub(crate) struct FeedEntry<'a> {
    pub(crate) forum: &'a ForumView,
    pub(crate) poll: &'a PollView,
    pub(crate) outcome: &'a Outcome,
    pub(crate) event: FeedEvent<'a>,
}

/// What a feed entry announces: the decision, or what was done about it since.
pub(crate) enum FeedEvent<'a> {
    Outcome,
    /// The `n`th response (from 0).
    Response(usize, &'a ResponseView),
    ActionPlanned(&'a ActionView),
    /// The `n`th update (from 0) of an action.
    ActionUpdated(&'a ActionView, usize, &'a ActionUpdateView),
}

impl FeedEntry<'_> {
    fn at_ms(&self) -> u64 {
        match &self.event {
            FeedEvent::Outcome => self.outcome.closed_at_ms,
            FeedEvent::Response(_, r) => r.at_ms,
            FeedEvent::ActionPlanned(a) => a.planned_at_ms,
            FeedEvent::ActionUpdated(_, _, u) => u.at_ms,
        }
    }

    /// Stable across hosts and restarts: the forum, the poll and which step.
    fn name(&self) -> String {
        let base = format!("forum/{}/poll/{}", self.forum.forum.id, self.poll.id);
        match &self.event {
            FeedEvent::Outcome => format!("{base}/outcome"),
            FeedEvent::Response(n, _) => format!("{base}/response/{n}"),
            FeedEvent::ActionPlanned(a) => format!("{base}/action/{}", a.id),
            FeedEvent::ActionUpdated(a, n, _) => format!("{base}/action/{}/update/{n}", a.id),
        }
    }

    fn title(&self) -> String {
        let ko = korean(&self.forum.forum.language);
        let title = &self.outcome.title;
        let forum = &self.forum.forum.title;
        match (&self.event, ko) {
            (FeedEvent::Outcome, _) => format!("{forum}: {title}"),
            (FeedEvent::Response(..), false) => format!("{forum}: {title}: response"),
            (FeedEvent::Response(..), true) => format!("{forum}: {title}: 답변"),
            (FeedEvent::ActionPlanned(a), false) => format!("{forum}: {title}: action planned: {}", a.title),
            (FeedEvent::ActionPlanned(a), true) => format!("{forum}: {title}: 조치 계획: {}", a.title),
            (FeedEvent::ActionUpdated(a, ..), false) => format!("{forum}: {title}: action update: {}", a.title),
            (FeedEvent::ActionUpdated(a, ..), true) => format!("{forum}: {title}: 조치 진행: {}", a.title),
        }
    }

    fn summary(&self) -> String {
        let ko = korean(&self.forum.forum.language);
        match &self.event {
            FeedEvent::Outcome => outcome_words(self.poll, self.outcome, &self.forum.forum.language),
            FeedEvent::Response(_, r) => {
                let said = match (r.response, ko) {
                    (ResponseKind::Adopted, false) => "Adopted",
                    (ResponseKind::AdoptedInPart, false) => "Adopted in part",
                    (ResponseKind::Declined, false) => "Declined",
                    (ResponseKind::Adopted, true) => "수용",
                    (ResponseKind::AdoptedInPart, true) => "일부 수용",
                    (ResponseKind::Declined, true) => "불수용",
                };
                format!("{said} ({}): {}", r.body, r.reasons)
            }
            FeedEvent::ActionPlanned(a) => match (&a.target_date, ko) {
                (Some(date), false) => format!("{} (target date {date})", a.title),
                (Some(date), true) => format!("{} (목표일 {date})", a.title),
                (None, _) => a.title.clone(),
            },
            FeedEvent::ActionUpdated(a, _, u) => {
                let status = status_words(u.status, ko);
                match &u.note {
                    Some(note) => format!("{}: {status}. {note}", a.title),
                    None => format!("{}: {status}", a.title),
                }
            }
        }
    }
}

fn status_words(status: ActionStatus, ko: bool) -> &'static str {
    match (status, ko) {
        (ActionStatus::Planned, false) => "planned",
        (ActionStatus::InProgress, false) => "in progress",
        (ActionStatus::Done, false) => "done",
        (ActionStatus::Dropped, false) => "dropped",
        (ActionStatus::Planned, true) => "계획",
        (ActionStatus::InProgress, true) => "진행 중",
        (ActionStatus::Done, true) => "완료",
        (ActionStatus::Dropped, true) => "중단",
    }
}

/// The closed polls of `views` whose outcome is public and every step of
/// their follow-through, latest first, at most [`MAX_FEED_ENTRIES`].
pub(crate) fn latest_entries(views: &[ForumView]) -> Vec<FeedEntry<'_>> {
    let mut entries: Vec<FeedEntry<'_>> = Vec::new();
    for forum in views {
        for poll in &forum.polls {
            let Some(outcome) = poll.outcome.as_ref() else { continue };
            entries.push(FeedEntry { forum, poll, outcome, event: FeedEvent::Outcome });
            let Some(ft) = &poll.follow_through else { continue };
            for (n, response) in ft.responses.iter().enumerate() {
                entries.push(FeedEntry { forum, poll, outcome, event: FeedEvent::Response(n, response) });
            }
            for action in &ft.actions {
                entries.push(FeedEntry { forum, poll, outcome, event: FeedEvent::ActionPlanned(action) });
                for (n, update) in action.updates.iter().enumerate() {
                    entries.push(FeedEntry {
                        forum,
                        poll,
                        outcome,
                        event: FeedEvent::ActionUpdated(action, n, update),
                    });
                }
            }
        }
    }
    // Latest first; ties in a stable order (forum, then poll, then step) so the same views give the same bytes.
    entries.sort_by(|a, b| {
        b.at_ms()
            .cmp(&a.at_ms())
            .then_with(|| a.forum.forum.id.cmp(&b.forum.forum.id))
            .then_with(|| a.poll.id.cmp(&b.poll.id))
            .then_with(|| b.name().cmp(&a.name()))
    });
    entries.truncate(MAX_FEED_ENTRIES);
    entries
}

/// What the feed is about.
pub(crate) struct FeedHead<'a> {
    /// `urn:uuid:` of the feed.
    pub(crate) id: String,
    pub(crate) title: &'a str,
    /// The feed's own address (`rel="self"`).
    pub(crate) self_url: String,
    /// The page it stands for (`rel="alternate"`): the record page, or the server's front page.
    pub(crate) page_url: String,
    /// `xml:lang` of the feed, when it is one forum's.
    pub(crate) language: Option<&'a str>,
    /// `updated` when there is no entry (unix ms).
    pub(crate) empty_updated_ms: u64,
}

/// A name-based UUID (version 8, RFC 9562 §B.2: SHA-256 of the name) as a `urn:uuid:`.
pub(crate) fn urn_uuid(name: &str) -> String {
    let hash = Sha256::digest(format!("madang:{name}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// RFC 3339 in UTC with milliseconds, as Atom's date constructs want.
pub(crate) fn rfc3339(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

/// XML 1.0 allows no control characters but tab, newline and carriage return:
/// drop any other (titles are people's text).
fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}'))
        .collect()
}

fn korean(language: &str) -> bool {
    language.split('-').next().is_some_and(|l| l.eq_ignore_ascii_case("ko"))
}

/// The outcome in words, in the forum's language (Korean or English), for the entry's summary.
pub(crate) fn outcome_words(poll: &PollView, outcome: &Outcome, language: &str) -> String {
    let ko = korean(language);
    let tally = &outcome.tally;
    let label = |id| poll.options.iter().find(|o| o.id == id).map_or_else(|| format!("#{id}"), |o| o.label.clone());
    let verdict = if tally.no_votes || tally.ballots == 0 {
        if ko { "투표 없음".to_string() } else { "No votes".to_string() }
    } else if let TallyResult::YesNo { yes, no, abstain, rule, passed, tie } = &tally.result {
        let rule = match (rule, ko) {
            (MajorityRule::Simple, false) => "simple majority",
            (MajorityRule::Absolute, false) => "absolute majority",
            (MajorityRule::TwoThirds, false) => "two-thirds majority",
            (MajorityRule::Simple, true) => "단순 과반",
            (MajorityRule::Absolute, true) => "절대 과반",
            (MajorityRule::TwoThirds, true) => "3분의 2",
        };
        let said = match (*tie, *passed, ko) {
            (true, _, false) => "Tie: not carried",
            (false, true, false) => "Carried",
            (false, false, false) => "Not carried",
            (true, _, true) => "동수: 부결",
            (false, true, true) => "가결",
            (false, false, true) => "부결",
        };
        if ko {
            format!("{said} ({rule}): 찬성 {yes}, 반대 {no}, 기권 {abstain}")
        } else {
            format!("{said} ({rule}): yes {yes}, no {no}, abstain {abstain}")
        }
    } else {
        let winners = tally.result.winners();
        let names = winners.iter().map(|&id| label(id)).collect::<Vec<_>>().join(", ");
        match (winners.len(), ko) {
            (0, false) => "No winner".to_string(),
            (0, true) => "선택 없음".to_string(),
            (1, false) => format!("Chosen: {names}"),
            (1, true) => format!("선택: {names}"),
            (_, false) => format!("Tied: {names}"),
            (_, true) => format!("동률: {names}"),
        }
    };
    let split = tally.by_channel.as_ref().map(|bc| {
        let hall = bc.hall.ballots + bc.hall_count.ballots;
        if ko {
            format!(" (현장 {hall}, 온라인 {})", bc.remote.ballots)
        } else {
            format!(" (hall {hall}, online {})", bc.remote.ballots)
        }
    });
    let ballots = if ko {
        format!("{}표{}", tally.ballots, split.unwrap_or_default())
    } else {
        format!("{} ballots{}", tally.ballots, split.unwrap_or_default())
    };
    let stamp = outcome.record.as_ref().map(|r| {
        if ko {
            format!(" · 기록 지문 {}", r.fingerprint)
        } else {
            format!(" · record fingerprint {}", r.fingerprint)
        }
    });
    format!("{verdict}. {ballots}{}", stamp.unwrap_or_default())
}

fn text_element<W: std::io::Write>(w: &mut Writer<W>, name: &str, text: &str) -> std::io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(&xml_text(text)))?;
    Ok(())
}

fn link<W: std::io::Write>(w: &mut Writer<W>, rel: &str, href: &str, kind: &str) -> std::io::Result<()> {
    w.create_element("link")
        .with_attribute(("rel", rel))
        .with_attribute(("href", href))
        .with_attribute(("type", kind))
        .write_empty()?;
    Ok(())
}

/// The feed document. `origin` is `scheme://host` of the request.
pub(crate) fn render(head: &FeedHead<'_>, entries: &[FeedEntry<'_>], origin: &str) -> Vec<u8> {
    let mut w = Writer::new(Cursor::new(Vec::new()));
    let written: std::io::Result<()> = (|| {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
        let mut feed = w.create_element("feed").with_attribute(("xmlns", "http://www.w3.org/2005/Atom"));
        if let Some(language) = head.language {
            feed = feed.with_attribute(("xml:lang", xml_text(language).as_str()));
        }
        feed.write_inner_content(|w| {
            text_element(w, "id", &head.id)?;
            text_element(w, "title", head.title)?;
            let updated = entries.first().map_or(head.empty_updated_ms, FeedEntry::at_ms);
            text_element(w, "updated", &rfc3339(updated))?;
            link(w, "self", &head.self_url, "application/atom+xml")?;
            link(w, "alternate", &head.page_url, "text/html")?;
            w.create_element("author").write_inner_content(|w| text_element(w, "name", "Madang"))?;
            w.create_element("generator").write_text_content(BytesText::new("Madang"))?;
            for entry in entries {
                let forum = &entry.forum.forum;
                let page = format!("{origin}/forums/{}/record#poll-{}", forum.id, entry.poll.id);
                let mut element = w.create_element("entry");
                if head.language.is_none() {
                    element = element.with_attribute(("xml:lang", xml_text(&forum.language).as_str()));
                }
                element.write_inner_content(|w| {
                    text_element(w, "id", &urn_uuid(&entry.name()))?;
                    text_element(w, "title", &entry.title())?;
                    text_element(w, "updated", &rfc3339(entry.at_ms()))?;
                    link(w, "alternate", &page, "text/html")?;
                    text_element(w, "summary", &entry.summary())?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
        Ok(())
    })();
    // Writing to memory cannot fail.
    debug_assert!(written.is_ok());
    w.into_inner().into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_790_000_039_123), "2026-09-21T14:13:59.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn ids_are_stable_version_8_uuids() {
        let id = urn_uuid("forum/abc/poll/1/outcome");
        assert_eq!(id, urn_uuid("forum/abc/poll/1/outcome"));
        assert_ne!(id, urn_uuid("forum/abc/poll/2/outcome"));
        let uuid = id.strip_prefix("urn:uuid:").expect("urn");
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "8");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(xml_text("a\u{1}b\tc\u{fffe}"), "ab\tc");
    }
}
