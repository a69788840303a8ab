//! The temperature check.

use std::collections::BTreeMap;

use madang_protocol::{Channel, Command, SignalColor};

use crate::domain::test_support::*;
use crate::domain::*;

#[test]
fn a_signal_replaces_the_participants_earlier_signal_on_the_current_item() {
    let mut f = live();
    let me = join_on(&mut f, Channel::Hall, None);
    let signal = |color| Command::Signal { color };
    assert_invalid_state(err(&mut f, Actor::Participant(me), signal(SignalColor::Red)), "no current agenda item");
    ok(&mut f, MOD, add_item("One"));
    ok(&mut f, MOD, add_item("Two"));
    ok(&mut f, MOD, Command::ActivateItem { item: item(1) });
    assert_eq!(
        ok(&mut f, Actor::Participant(me), signal(SignalColor::Red)),
        Event::SignalSet { item: item(1), participant: me, color: SignalColor::Red }
    );
    ok(&mut f, Actor::Participant(me), signal(SignalColor::Green));
    assert_eq!(f.signals[&item(1)], BTreeMap::from([(me, SignalColor::Green)]));
    ok(&mut f, MOD, Command::ActivateItem { item: item(2) });
    ok(&mut f, Actor::Participant(me), signal(SignalColor::Yellow));
    assert_eq!(f.signals[&item(1)][&me], SignalColor::Green, "each item keeps its own signals");
    assert_eq!(f.signals[&item(2)][&me], SignalColor::Yellow);
    assert_forbidden(err(&mut f, MOD, signal(SignalColor::Green)), "`signal` is for participants");
    assert_forbidden(err(&mut f, Actor::Display, signal(SignalColor::Green)), "read-only");
}
