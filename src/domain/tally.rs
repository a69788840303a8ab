//! The live tally of a poll: every channel merged, and each channel
//! (`remote`, `hall`, `hall_count`) counted alone under the same method.
//!
//! This is where the forum meets the methods: it knows which participant is
//! in which channel, the hand count, and the live pairwise counts; the
//! methods (`method/`) know how to count.

use madang_protocol::{Ballot, Channel, ChannelBreakdown, ChannelTally, PollMethod, Tally};

use super::forum::Forum;
use super::method::{self, PairwiseMatrix, pairwise};
use super::polls::Poll;

impl Forum {
    /// The live tally of a poll: device ballots and the hall count merged,
    /// and each channel counted alone under the same method.
    pub fn tally(&self, poll: &Poll) -> Tally {
        if matches!(poll.method, PollMethod::Pairwise {}) {
            return self.pairwise_tally(poll);
        }
        let options = self.option_index(poll);
        let devices = |channel: Channel| {
            poll.ballots.iter().filter(move |(p, _)| self.channel_of(p) == channel).map(|(_, b)| (b, 1u64))
        };
        let hand = poll.hall_count.as_ref().map(method::weighted_ballots).unwrap_or_default();
        let hand = || hand.iter().map(|(b, w)| (b, *w));
        let hand_people = poll.hall_count.as_ref().map_or(0, method::people_counted);
        let live = poll.live.as_ref();
        // Pairwise counts: the devices' are kept live; the few hand-entered rankings are added here.
        let hand_matrix = live.map(|l| {
            let mut m = PairwiseMatrix::new(l.remote.options());
            for (ballot, weight) in hand() {
                if let Ballot::Ranked { ranking } = ballot {
                    m.add(&method::counted_ranking(&options, ranking), weight);
                }
            }
            m
        });
        let merged_matrix = live.zip(hand_matrix.as_ref()).map(|(l, h)| {
            let mut m = l.remote.clone();
            m.absorb(&l.hall);
            m.absorb(h);
            m
        });
        let count =
            |ballots: Box<dyn Iterator<Item = _>>, matrix| method::count(&poll.method, &options, ballots, matrix);
        let remote_ballots = devices(Channel::Remote).count() as u32;
        let hall_ballots = devices(Channel::Hall).count() as u32;
        let all = poll.ballots.values().map(|b| (b, 1u64)).chain(hand());
        // One count of all ballots gives both the result and, for a ranked poll, every method's detail.
        let (result, ranked) = method::count_with_detail(&poll.method, &options, all, merged_matrix.as_ref());
        let ballots = (poll.ballots.len() as u32).saturating_add(hand_people);
        Tally {
            poll: poll.id,
            ballots,
            no_votes: ballots == 0,
            result,
            by_channel: Some(ChannelBreakdown {
                remote: ChannelTally {
                    ballots: remote_ballots,
                    result: count(Box::new(devices(Channel::Remote)), live.map(|l| &l.remote)),
                },
                hall: ChannelTally {
                    ballots: hall_ballots,
                    result: count(Box::new(devices(Channel::Hall)), live.map(|l| &l.hall)),
                },
                hall_count: ChannelTally {
                    ballots: hand_people,
                    result: count(Box::new(hand()), hand_matrix.as_ref()),
                },
            }),
            ranked: ranked.map(Box::new),
        }
    }

    /// A pairwise poll's tally: everyone's comparisons, and each device
    /// channel's alone; the hand-count channel is always empty.
    fn pairwise_tally(&self, poll: &Poll) -> Tally {
        let options = self.option_index(poll);
        let answers = &poll.comparisons.answers;
        let of = |channel: Option<Channel>| {
            let people = || answers.iter().filter(|(p, _)| channel.is_none_or(|c| self.channel_of(p) == c));
            let (wins, skipped) = pairwise::wins(&options, people().map(|(_, a)| a));
            (people().count() as u32, pairwise::result(options.counted(), wins, skipped))
        };
        let (ballots, result) = of(None);
        let (remote, remote_result) = of(Some(Channel::Remote));
        let (hall, hall_result) = of(Some(Channel::Hall));
        Tally {
            poll: poll.id,
            ballots,
            no_votes: ballots == 0,
            result,
            by_channel: Some(ChannelBreakdown {
                remote: ChannelTally { ballots: remote, result: remote_result },
                hall: ChannelTally { ballots: hall, result: hall_result },
                hall_count: ChannelTally { ballots: 0, result: pairwise::no_comparisons(&options) },
            }),
            ranked: None,
        }
    }
}

#[cfg(test)]
mod tests;
